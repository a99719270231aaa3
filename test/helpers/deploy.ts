/**
 * Shared by the deploy tests (unit and integration): where the repository is, the
 * external tools they need (with the Debian package that provides each), and what the
 * alert rules and the dashboard reference. alerts.yml is read with a small line parser
 * that knows only the shape of that file (the project has no YAML library); Prometheus
 * itself parses it in test/integration/deploy/prometheus.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/unit/deploy/support.js -> the repository root. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const repoPath = (...parts: string[]): string => join(REPO, ...parts);
export const readRepo = (...parts: string[]): string => readFileSync(repoPath(...parts), 'utf8');

/**
 * The absolute path of `name` on PATH (or in the sbin folders Debian uses), or a failed
 * assertion naming the Debian package to install. Tools are never optional: a missing one
 * fails the test.
 */
export function requireTool(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  assert.fail(`${name} not found: install the Debian package "${debianPackage}" (apt-get install -y ${debianPackage}; scripts/test-all.sh does it)`);
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command to completion, bounded in time; never throws on a non-zero exit. */
export function run(file: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd ?? REPO, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? String(err) : '') });
    });
  });
}

/**
 * `promtool check metrics` on a text exposition (it reads stdin): code 0 and nothing on
 * stderr when the exposition lints clean, else the problems it names.
 */
export function promtoolCheckMetrics(exposition: string): Promise<RunResult> {
  const promtool = requireTool('promtool', 'prometheus');
  return new Promise((resolve) => {
    const p = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    p.stdin.end(exposition);
  });
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

const unquote = (v: string): string => {
  const t = v.trim();
  return (t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")) ? t.slice(1, -1) : t;
};
const indent = (l: string): number => l.length - l.trimStart().length;

/** The alerting rules of a Prometheus rule file shaped like deploy/prometheus/alerts.yml. */
export function parseAlertRules(text: string): AlertRule[] {
  const lines = text.split('\n');
  const rules: AlertRule[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)- alert:\s*(\S+)\s*$/.exec(lines[i]!);
    if (!m) continue;
    const itemIndent = m[1]!.length + 2; // keys of the list item
    const rule = { alert: m[2]!, expr: '', labels: {} as Record<string, string>, annotations: {} as Record<string, string> };
    let section: 'labels' | 'annotations' | undefined;
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim() === '' || l.trimStart().startsWith('#')) continue;
      if (indent(l) < itemIndent || (indent(l) === itemIndent - 2 && l.trimStart().startsWith('- '))) break;
      const kv = /^(\s*)([A-Za-z_][A-Za-z0-9_]*):\s?(.*)$/.exec(l);
      if (!kv) continue;
      const [, ind, key, value] = kv as unknown as [string, string, string, string];
      if (ind.length === itemIndent) {
        section = undefined;
        if (key === 'expr') {
          if (value.trim() === '|' || value.trim() === '>') {
            const block: string[] = [];
            while (j + 1 < lines.length && (lines[j + 1]!.trim() === '' || indent(lines[j + 1]!) > itemIndent)) block.push(lines[++j]!.trim());
            rule.expr = block.join('\n').trim();
          } else rule.expr = unquote(value);
        } else if (key === 'labels' || key === 'annotations') section = key;
      } else if (section && ind.length > itemIndent) {
        rule[section][key] = unquote(value);
      }
    }
    rules.push(rule);
    i = j - 1;
  }
  return rules;
}

export interface AlertTestCase {
  readonly alertname: string;
  readonly evalTime: string;
  /** exp_alerts lists at least one alert (else it is `exp_alerts: []`). */
  readonly fires: boolean;
}

/** The alert_rule_test entries of a promtool rule test file shaped like deploy/prometheus/alerts.test.yml. */
export function alertTestCases(text: string): AlertTestCase[] {
  const lines = text.split('\n');
  const out: AlertTestCase[] = [];
  for (let i = 0; i < lines.length; i++) {
    const t = /^\s*- eval_time:\s*(\S+)\s*$/.exec(lines[i]!);
    if (!t) continue;
    const name = /^\s*alertname:\s*(\S+)\s*$/.exec(lines[i + 1] ?? '');
    const exp = /^\s*exp_alerts:\s*(\[\])?\s*$/.exec(lines[i + 2] ?? '');
    assert.ok(name && exp, `alert test at line ${i + 1}: expected eval_time, alertname, exp_alerts in that order`);
    const fires = exp[1] === undefined;
    if (fires) assert.match(lines[i + 3] ?? '', /^\s*- exp_labels:/, `alert test at line ${i + 1}: exp_alerts without entries`);
    out.push({ alertname: name[1]!, evalTime: t[1]!, fires });
  }
  return out;
}

export interface DashboardQuery {
  readonly panel: string;
  readonly expr: string;
}

interface Panel {
  readonly title?: string;
  readonly type?: string;
  readonly targets?: { readonly expr?: string }[];
  readonly panels?: Panel[];
}

/** Every panel of a dashboard, rows' nested panels included. */
export function dashboardPanels(dash: { panels?: Panel[] }): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: readonly Panel[] | undefined): void => {
    for (const p of ps ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(dash.panels);
  return out;
}

/** Every PromQL expression of a dashboard: panel targets and template variable queries. */
export function dashboardQueries(dash: { panels?: Panel[]; templating?: { list?: { name?: string; query?: unknown; definition?: string }[] } }): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const p of dashboardPanels(dash)) for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '?', expr: t.expr });
  for (const v of dash.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    if (q) out.push({ panel: `$${v.name}`, expr: q });
  }
  return out;
}

/** Metric names of ours (meterledger_*) in a PromQL expression. */
export function meterledgerNames(expr: string): string[] {
  return [...new Set(expr.match(/\bmeterledger_[A-Za-z0-9_]+/g) ?? [])];
}

/** The families a text exposition declares (`# TYPE name type`), with their type. */
export function exposedFamilies(exposition: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** Whether a referenced series name is one of the families, histogram series included. */
export function isExposed(name: string, families: ReadonlyMap<string, string>): boolean {
  if (families.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && (families.get(base) === 'histogram' || families.get(base) === 'summary');
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Anchors of every heading of a Markdown document. */
export function markdownAnchors(md: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const l of md.split('\n')) {
    if (l.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.+?)\s*$/.exec(l);
    if (m) out.add(headingAnchor(m[1]!));
  }
  return out;
}

/** The Dockerfile's HEALTHCHECK command (exec form) as argv. */
export function dockerHealthcheck(dockerfile: string): string[] {
  const joined = dockerfile.replace(/\\\n/g, ' ');
  const m = /^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(joined);
  assert.ok(m, 'deploy/Dockerfile has a HEALTHCHECK ... CMD ["..."] in exec form');
  return JSON.parse(m[1]!) as string[];
}
