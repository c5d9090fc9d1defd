/**
 * @module python
 * Runs a Python 3 script (`python3 -c`) for the tests that drive correio with Python's own
 * clients (smtplib, poplib): its exit status and output, or its output only.
 * Security: test only; the scripts are the tests' own and talk to loopback only.
 * Limitations: needs python3 on PATH; callers skip their test when it or a module is missing.
 */
import { execFile, spawn } from 'node:child_process';

export interface PythonRun {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `python3 -c script ...args` (or another interpreter) to its end. */
export async function python3(script: string, args: readonly string[], interpreter = 'python3'): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(interpreter, ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * The first Python 3 that can import `module`: PATH's, or Debian's own /usr/bin/python3 (where
 * packages such as python3-dkim install); undefined when neither can.
 */
export async function pythonWithModule(module: string): Promise<string | undefined> {
  for (const p of ['python3', '/usr/bin/python3']) {
    const r = await python3(`import ${module}`, [], p).catch(() => undefined);
    if (r?.code === 0) return p;
  }
  return undefined;
}

/** What the script printed; rejects when it exits with a status other than 0. */
export async function runPython(script: string, args: readonly string[]): Promise<string> {
  const { code, out, err } = await python3(script, args);
  if (code !== 0) throw new Error(`python3 exited ${code}: ${err}`);
  return out;
}

/**
 * Every document of a YAML file (the OpenSPF and ARC suites), read with Python's PyYAML: the
 * documents, or why they cannot be read (PyYAML missing), for the caller's skip message.
 */
export function loadYamlDocuments<T>(file: string): Promise<T[] | string> {
  const script = 'import json, sys, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1]))]))';
  return new Promise((resolve) => {
    const tryPy = (cands: string[]): void => {
      const py = cands.shift();
      if (!py) return resolve('PyYAML missing: install the Debian package python3-yaml');
      execFile(py, ['-c', script, file], { maxBuffer: 64 * 1024 * 1024 }, (err, out) => {
        if (err) return tryPy(cands);
        resolve(JSON.parse(out) as T[]);
      });
    };
    // Debian's python3 (where python3-yaml installs) as well as the one on PATH
    tryPy(['python3', '/usr/bin/python3']);
  });
}
