/**
 * The book pipeline of examples/book-pipeline.yaml written with the typed builder. The result is the same
 * validated spec object the YAML parses to; `workflowToYaml(bookPipeline)` prints it as YAML.
 */
import { step, templates, workflow } from '../src/workflow/index.js';

const p = (name: string) => `{{workflow.parameters.${name}}}`;

export const bookPipeline = workflow({
  generateName: 'book-pipeline-',
  entrypoint: 'pipeline',
  onExit: 'report',
  parameters: { epochs: 1, steps: 70, repo: '.distml/repository', 'model-name': 'fashion-mnist' },
  templates: [
    templates.steps('pipeline', [
      [step('data-ingestion-step', 'data-ingestion-step')],
      [
        step('train', 'train-model', {
          withItems: ['cnn', 'dropout', 'batch_norm'],
          arguments: {
            model: '{{item}}',
            fingerprint: '{{steps.data-ingestion-step.outputs.parameters.fingerprint}}',
          },
        }),
      ],
      [
        step('model-selection-step', 'model-selection-step', {
          arguments: { candidates: '{{steps.train.outputs.parameters.path}}' },
        }),
      ],
      [step('serve', 'model-serving-step')],
      [step('smoke-test', 'predict', { arguments: { url: '{{steps.serve.outputs.parameters.url}}' } })],
    ]),
    templates.distml(
      'data-ingestion-step',
      'ingest',
      {},
      {
        memoize: {
          key: 'fashion-mnist-v1',
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
        threads: '1',
      },
      {
        inputs: ['model', 'fingerprint'],
        memoize: {
          key: `train-{{inputs.parameters.model}}-${p('epochs')}x${p('steps')}-{{inputs.parameters.fingerprint}}`,
          maxAge: '1d',
          cache: { configMap: { name: 'train-cache' } },
        },
        retryStrategy: { limit: 1 },
        resources: { cores: 1 },
      },
    ),
    templates.distml(
      'model-selection-step',
      'select',
      { candidates: '{{inputs.parameters.candidates}}', repo: p('repo'), name: p('model-name') },
      { inputs: ['candidates'] },
    ),
    templates.distml('model-serving-step', 'serve', { repo: p('repo'), model: p('model-name') }),
    templates.container('predict', ['node', '-e'], {
      inputs: ['url'],
      args: [
        `fetch(process.argv[1] + '/v1/models/${p('model-name')}')\n  .then((r) => r.text()).then((t) => { console.log(t); })\n  .catch((e) => { console.error(e.message); process.exit(1); });\n`,
        '{{inputs.parameters.url}}',
      ],
    }),
    templates.container('report', [
      'sh',
      '-c',
      'echo "pipeline {{workflow.name}} finished: {{workflow.status}}"',
    ]),
  ],
});
