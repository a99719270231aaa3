/** Top frames of a V8 .cpuprofile (node --cpu-prof): self time per function, as shares of the samples. */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface Frame {
  readonly frame: string;
  readonly selfShare: number;
}

export function topFrames(file: string, n = 15): { total: number; idleShare: number; frames: Frame[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  for (const s of p.samples) {
    const cf = byId.get(s)!.callFrame;
    const where = cf.url ? `${cf.url.replace(/^.*\/(node_modules\/|dist\/)/, '$1')}:${cf.lineNumber + 1}` : '';
    const k = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    self.set(k, (self.get(k) ?? 0) + 1);
  }
  const total = p.samples.length;
  const idle = self.get('(idle)') ?? 0;
  const frames = [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([frame, c]) => ({ frame, selfShare: Math.round((c / total) * 1000) / 1000 }));
  return { total, idleShare: idle / total, frames };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, 'dist/')) && process.argv[2]) {
  console.log(JSON.stringify(topFrames(process.argv[2], Number(process.argv[3] ?? 25)), null, 1));
}
