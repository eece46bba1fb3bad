// Result aggregation (book 5.2 fan-in, 7.1): the same request goes to every model of the ensemble and the
// answer is the element-wise mean of their class probabilities, with each model's own answer alongside.

/** Element-wise mean of same-shaped per-example probability rows from several models. */
export function averageRows(answers: number[][][]): number[][] {
  const first = answers[0] ?? [];
  return first.map((row, i) =>
    row.map((_, c) => {
      let sum = 0;
      for (const a of answers) sum += (a[i] as number[])[c] as number;
      return Number((sum / answers.length).toPrecision(9));
    }),
  );
}

/** Element-wise mean of flat FP32 tensors. */
export function averageFlat(tensors: number[][]): number[] {
  const first = tensors[0] ?? [];
  return first.map((_, i) => {
    let sum = 0;
    for (const t of tensors) sum += t[i] as number;
    return Number((sum / tensors.length).toPrecision(9));
  });
}

/** The most likely class name of each row of a flat [N, k] tensor. */
export function argmaxLabels(flat: number[], k: number, classNames: string[]): string[] {
  const labels: string[] = [];
  for (let i = 0; i * k < flat.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if ((flat[i * k + c] as number) > (flat[i * k + best] as number)) best = c;
    labels.push(classNames[best] ?? String(best));
  }
  return labels;
}
