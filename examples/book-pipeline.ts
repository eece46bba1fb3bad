/**
 * The book pipeline of examples/book-pipeline.yaml written with the typed builder. The result is the same
 * validated spec object the YAML parses to; `workflowToYaml(bookPipeline)` prints it as YAML.
 */
import { task, templates, workflow } from '../src/workflow/index.js';

const p = (name: string) => `{{workflow.parameters.${name}}}`;
const out = (t: string, name: string) => `{{tasks.${t}.outputs.parameters.${name}}}`;
const artifact = (t: string, name: string) => `{{tasks.${t}.outputs.artifacts.${name}}}`;
const MODELS = [
  ['cnn', 'cnn'],
  ['dropout', 'dropout'],
  ['batch-norm', 'batch_norm'],
] as const;
const finished = (t: string) => `(${t}.Succeeded || ${t}.Failed)`;
const request = `'{\\"instances\\":[{\\"image_bytes\\":{\\"b64\\":\\"'\\$(base64 -w0 image.jpg)'\\"}}]}'`;

export const bookPipeline = workflow({
  generateName: 'book-pipeline-',
  entrypoint: 'pipeline',
  onExit: 'report',
  parameters: {
    epochs: 1,
    steps: 400,
    workers: 2,
    threshold: 0.5,
    repo: '.distml/repository',
    'model-name': 'fashion-mnist',
    'max-replicas': 3,
    hold: 'false',
    wait: '10m',
  },
  templates: [
    templates.dag('pipeline', [
      task('ingest', 'data-ingestion-step'),
      ...MODELS.map(([t, model]) =>
        task(`train-${t}`, 'train-model', {
          depends: 'ingest',
          arguments: { model, fingerprint: out('ingest', 'fingerprint') },
          artifacts: { dataset: artifact('ingest', 'dataset') },
        }),
      ),
      ...MODELS.map(([t]) =>
        task(`publish-${t}`, 'publish-if-better', {
          depends: `train-${t}`,
          continueOn: { failed: true },
          artifacts: { candidate: artifact(`train-${t}`, 'model') },
        }),
      ),
      task('serve', 'model-serving-step', { depends: 'ingest' }),
      task('select-top-2', 'top-2', {
        depends: MODELS.map(([t]) => `train-${t}`).join(' && '),
        artifacts: Object.fromEntries(MODELS.map(([t]) => [t, artifact(`train-${t}`, 'model')])),
      }),
      task('ensemble', 'ensemble-serving-step', { depends: 'select-top-2' }),
      task('predict', 'predict', {
        depends: 'serve',
        arguments: { url: out('serve', 'url'), model: p('model-name') },
      }),
      task('predict-ensemble', 'predict', {
        depends: 'ensemble && predict',
        arguments: { url: out('ensemble', 'url'), model: 'ensemble' },
      }),
      task('summary', 'summary', {
        depends: ['predict-ensemble', ...MODELS.map(([t]) => finished(`publish-${t}`))].join(' && '),
        arguments: {
          accuracies: MODELS.map(([t, model]) => `${model}=${out(`train-${t}`, 'testAccuracy')}`).join(' '),
          url: out('serve', 'url'),
          'ensemble-url': out('ensemble', 'url'),
        },
      }),
      task('hold', 'hold', { depends: 'summary', when: `${p('hold')} == true` }),
    ]),
    templates.distml(
      'data-ingestion-step',
      'ingest',
      { out: '{{outputs.artifacts.dataset.path}}' },
      {
        outputs: { artifacts: [{ name: 'dataset', path: 'dataset', archive: { none: {} } }] },
        memoize: {
          key: 'fashion-mnist-v2',
          maxAge: '7d',
          cache: { configMap: { name: 'data-ingestion-cache' } },
        },
      },
    ),
    templates.distml(
      'train-model',
      'train',
      {
        model: '{{inputs.parameters.model}}',
        epochs: p('epochs'),
        'steps-per-epoch': p('steps'),
        workers: p('workers'),
        'batch-size': '32',
        source: '{{inputs.artifacts.dataset.path}}',
        out: '{{outputs.artifacts.model.path}}',
      },
      {
        inputs: ['model', 'fingerprint'],
        inputArtifacts: { dataset: 'dataset' },
        outputs: { artifacts: [{ name: 'model', path: 'model' }] },
        memoize: {
          key: `train-v2-{{inputs.parameters.model}}-${p('epochs')}x${p('steps')}x${p('workers')}-{{inputs.parameters.fingerprint}}`,
          maxAge: '1d',
          cache: { configMap: { name: 'train-cache' } },
        },
        retryStrategy: { limit: 1 },
        resources: { cores: 2 },
      },
    ),
    templates.distml(
      'publish-if-better',
      'select',
      {
        candidates: '{{inputs.artifacts.candidate.path}}',
        repo: p('repo'),
        name: p('model-name'),
        'min-accuracy': p('threshold'),
        'only-if-better': 'true',
      },
      { inputArtifacts: { candidate: 'candidate' }, resources: { cores: 0 } },
    ),
    templates.distml(
      'top-2',
      'select',
      {
        candidates: `[${MODELS.map(([t]) => `"{{inputs.artifacts.${t}.path}}"`).join(', ')}]`,
        repo: p('repo'),
        name: p('model-name'),
        'top-k': '2',
      },
      { inputArtifacts: Object.fromEntries(MODELS.map(([t]) => [t, t])) },
    ),
    templates.distml('model-serving-step', 'serve', {
      repo: p('repo'),
      model: p('model-name'),
      autoscale: 'true',
      min: '1',
      max: p('max-replicas'),
      'target-concurrency': '4',
      // The server starts before any model is published: the repository may not exist yet.
      'wait-for-model': p('wait'),
    }),
    templates.distml('ensemble-serving-step', 'serve', {
      repo: p('repo'),
      ensemble: `${p('model-name')}-1,${p('model-name')}-2`,
      replicas: '1',
    }),
    templates.distml(
      'predict',
      'predict',
      {
        url: '{{inputs.parameters.url}}',
        model: '{{inputs.parameters.model}}',
        count: '8',
        wait: p('wait'),
      },
      { inputs: ['url', 'model'] },
    ),
    templates.container('summary', ['sh', '-c'], {
      inputs: ['accuracies', 'url', 'ensemble-url'],
      args: [
        [
          'echo ""',
          'echo "test accuracy after training: $1"',
          `echo "serving ${p('model-name')} (autoscaled): $2"`,
          'echo "serving the top-2 ensemble:  $3"',
          'echo "try it:"',
          `echo "  curl -s $2/v1/models/${p('model-name')}:predict -d ${request}"`,
          `echo "  curl -s $3/v1/models/ensemble:predict -d ${request}"`,
          `if [ "${p('hold')}" = true ]; then echo "serving until Ctrl-C (or: distml stop {{workflow.name}})"; fi`,
          '',
        ].join('\n'),
        'summary',
        '{{inputs.parameters.accuracies}}',
        '{{inputs.parameters.url}}',
        '{{inputs.parameters.ensemble-url}}',
      ],
    }),
    templates.container('hold', [
      'sh',
      '-c',
      `echo "serving until Ctrl-C (or distml stop {{workflow.name}})"; while :; do sleep 3600; done`,
    ]),
    templates.container('report', [
      'sh',
      '-c',
      `echo "pipeline {{workflow.name}} finished: {{workflow.status}}"`,
    ]),
  ],
});
