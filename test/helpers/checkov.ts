// The security scan as the manifest tests run it (k8s-security: the kustomize renders; helm: the
// official charts' renders): checkov, pinned by scripts/install-tools.sh, and the one list of
// skips a manifest may carry.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOOLS = fileURLToPath(new URL('../../.tools', import.meta.url));
export const CHECKOV = join(TOOLS, 'checkov-venv', 'bin', 'checkov');

/** Why checkov cannot run here (install-tools wrote the error), or undefined. */
export function missingCheckov(): string | undefined {
  if (existsSync(CHECKOV)) return undefined;
  const errorFile = join(TOOLS, 'checkov-error');
  return `missing .tools/checkov-venv/bin/checkov: ${existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools'}`;
}

/** Findings that do not apply to a Vault server: each skip names one of these, with its reason. */
export const ALLOWED_SKIPS: Readonly<Record<string, string>> = {
  CKV_K8S_8: 'liveness probe: restarting a sealed server does not unseal it',
  CKV_K8S_11: 'CPU limit: CFS throttling delays raft heartbeats',
  CKV_K8S_40: "high UID: OpenBao's image owns its raft files as uid 100",
};
/** NetworkPolicy for every pod, service-account tokens only where needed, images by digest: never skipped. */
export const NEVER_SKIPPED = ['CKV2_K8S_6', 'CKV_K8S_38', 'CKV_K8S_43', 'CKV_K8S_15'];

export interface Finding {
  check_id: string;
  resource: string;
  file_path: string;
  check_result: { result: string; suppress_comment?: string };
}
export interface Scan {
  failed: Finding[];
  skipped: Finding[];
  passed: Finding[];
}

/**
 * checkov over a directory of manifests; its JSON report, one entry per framework. Run without
 * blocking: a scan takes tens of seconds on a loaded machine, and the test worker must keep
 * answering its runner meanwhile. checkov exits 1 when it finds something, which is a report too.
 */
export async function scan(directory: string): Promise<Scan> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      CHECKOV,
      ['--directory', directory, '--framework', 'kubernetes', '--output', 'json', '--skip-download'],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (error, out, err) => {
        if (error && error.code !== 1)
          reject(new Error(`checkov exited ${String(error.code)}: ${err.split('\n').slice(-3).join(' ')}`));
        else resolve(out);
      },
    );
  });
  const reports = [JSON.parse(stdout)].flat() as Array<{
    results: { failed_checks: Finding[]; skipped_checks: Finding[]; passed_checks: Finding[] };
  }>;
  return {
    failed: reports.flatMap((report) => report.results.failed_checks),
    skipped: reports.flatMap((report) => report.results.skipped_checks),
    passed: reports.flatMap((report) => report.results.passed_checks),
  };
}
