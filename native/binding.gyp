# Builds distml_native.node over libtorch.
# Default: Debian/Ubuntu layout (apt-get install libtorch-dev). Set LIBTORCH=/path to use an unpacked
# libtorch zip ($LIBTORCH/include, $LIBTORCH/lib); its lib dir is baked in as rpath.
{
  'variables': {
    'libtorch%': '<!(node -p "process.env.LIBTORCH || \'\'")',
    'napi_include%': '<!(node -p "require(\'path\').resolve(require(\'node-addon-api\').include_dir)")',
  },
  'targets': [
    {
      'target_name': 'distml_native',
      'sources': ['src/net.cc', 'src/collective.cc', 'src/store.cc', 'src/image.cc', 'src/compute.cc', 'src/convert.cc', 'src/addon.cc'],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED', 'USE_C10D_GLOO'],
      'cflags!': ['-fno-exceptions', '-fno-rtti'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      # Third-party headers go through -isystem so only warnings in our own code show.
      'cflags_cc': ['-std=c++17', '-fexceptions', '-frtti', '-O3', '-Wall', '-Wextra', '-isystem', '<(napi_include)'],
      'conditions': [
        ['libtorch==""', {
          'cflags_cc': ['-isystem', '/usr/include/torch/csrc/api/include'],
          'libraries': ['-L/usr/lib/x86_64-linux-gnu', '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10', '-Wl,--as-needed', '-ljpeg'],
        }, {
          'cflags_cc': ['-isystem', '<(libtorch)/include', '-isystem', '<(libtorch)/include/torch/csrc/api/include'],
          'libraries': ['-L<(libtorch)/lib', '-Wl,-rpath,<(libtorch)/lib', '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10', '-Wl,--as-needed', '-ljpeg'],
        }],
      ],
    },
  ],
}
