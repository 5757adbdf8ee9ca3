/**
 * Runs Maven as a child process for the local stack (resolving Keycloak's distribution, building the
 * Keycloak listener): it never blocks the event loop, says every few seconds that it is still at work,
 * keeps Maven's last lines and puts them in the error when Maven fails, with what to do.
 */
import { spawn } from 'node:child_process';

const OUTPUT_LINES = 30;

export interface MavenRun {
  /** what Maven does, for the progress lines and the error: "resolving Keycloak 26.7.3" */
  what: string;
  /** Maven's arguments after `-B` */
  args: string[];
  log?: (msg: string) => void;
  signal?: AbortSignal | undefined;
  /** what the error advises besides installing Maven and Java */
  advice?: string;
  /** how often it says it is still at work */
  everyMs?: number;
}

/** Runs `mvn -B <args>`; resolves when Maven exits 0, throws with Maven's last lines otherwise. */
export async function runMaven(run: MavenRun): Promise<void> {
  const log = run.log ?? console.error;
  const began = Date.now();
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - OUTPUT_LINES));
  };
  const outcome = await new Promise<string | undefined>((resolve) => {
    const mvn = spawn('mvn', ['-B', '-Dstyle.color=never', ...run.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(run.signal ? { signal: run.signal } : {}),
    });
    const ticker = setInterval(
      () => log(`still ${run.what} with Maven (${Math.round((Date.now() - began) / 1000)} s)…`),
      run.everyMs ?? 10_000,
    );
    mvn.stdout.on('data', keep);
    mvn.stderr.on('data', keep);
    mvn.once('error', (err) => {
      clearInterval(ticker);
      resolve(err.name === 'AbortError' ? 'interrupted' : err.message);
    });
    mvn.once('close', (code, sig) => {
      clearInterval(ticker);
      resolve(code === 0 ? undefined : `mvn exited with ${sig ?? `code ${code}`}`);
    });
  });
  if (outcome === undefined) return;
  throw new Error(
    `${run.what} with Maven failed: ${outcome} (mvn -B ${run.args.join(' ')})` +
      (output.length > 0 ? `\n--- Maven's last lines ---\n${output.join('\n')}\n---` : '') +
      "\nWhat to do: check that 'mvn' and a Java 17 JDK are installed (apt-get install maven default-jdk-headless) " +
      `and that Maven Central is reachable${run.advice === undefined ? '' : `; ${run.advice}`}.`,
  );
}
