import { UsageError, type Command } from '../command.js';
import { bashScript, SHELLS, zshScript, type Shell } from '../completion.js';
import { GLOBAL_OPTIONS } from '../global-options.js';

/**
 * `distml completion bash|zsh`. Built from a getter for the registry (which lists this command too), so the
 * script always matches the commands and flags of this build.
 */
export function completionCommand(commands: () => Command[]): Command {
  return {
    path: ['completion'],
    summary: 'print a shell completion script for bash or zsh, generated from the commands and their flags',
    usage: 'bash|zsh',
    details: [
      'bash: source <(distml completion bash)   (or save it as /etc/bash_completion.d/distml)',
      'zsh:  source <(distml completion zsh)    (add the line to ~/.zshrc)',
    ].join('\n'),
    options: {},
    run({ positionals }) {
      const shell = positionals[0];
      if (positionals.length !== 1 || !SHELLS.includes(shell as Shell))
        throw new UsageError(`expected the shell: \`distml completion ${SHELLS.join('|')}\``);
      const script = shell === 'bash' ? bashScript : zshScript;
      process.stdout.write(script(commands(), GLOBAL_OPTIONS));
      return Promise.resolve();
    },
  };
}
