/** Reading a gateway's /metrics in tests and benchmarks. */

/** Sum of a metric family's samples on /metrics whose labels contain `labels`. */
export async function metric(httpUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{')) || (labels && !rest.includes(labels))) continue;
    sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
