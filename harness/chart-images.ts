// Server images shaped as the official Helm charts expect them, for the local cluster
// (harness/local-cluster.ts). The charts start the server with
//   /bin/sh -ec 'cp …; sed -Ei …; /usr/local/bin/docker-entrypoint.sh bao server -config=/tmp/storageconfig.hcl'
// and stop it with a preStop `sleep N && kill -SIGTERM $(pidof bao)`: they need a shell, cp, sed,
// sleep, kill, pidof and the official image's entrypoint script, which the image
// scripts/local-cluster.sh builds for the kustomize manifests (the binary alone) does not have.
// This one adds them to the same stand-in base: busybox (static, the host's) for the tools, and
// an entrypoint that does what the official one does for a non-root user when the chart sets
// SKIP_CHOWN and SKIP_SETCAP (both charts do): run the command. The user is the official images'
// (uid 100, gid 1000, named openbao or vault). No registry is reached: everything is local.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { podman } from './image.js';
import type { LocalCluster } from './local-cluster.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOOLS = join(ROOT, '.tools');

/** The tools the charts' commands and probes call. */
const APPLETS = ['sh', 'cp', 'sed', 'sleep', 'kill', 'pidof', 'cat', 'ls', 'id', 'grep'];

const SERVERS = {
  openbao: { binary: 'bao', user: 'openbao', tag: 'localhost/openbao-chart:2.7.2-local' },
  vault: { binary: 'vault', user: 'vault', tag: 'localhost/vault-chart:1.19.0-local' },
} as const;

export type ChartServer = keyof typeof SERVERS;

/**
 * The chart's `server.image` values for the imported image, never pulled. The OpenBao chart
 * joins registry/repository:tag, the Vault chart repository:tag.
 */
export function chartImageValues(server: ChartServer): Record<string, string> {
  const [name, tag] = SERVERS[server].tag.split(':') as [string, string];
  if (server === 'vault') return { repository: name, tag, pullPolicy: 'Never' };
  const [registry, repository] = name.split(/\/(.*)/s) as [string, string];
  return { registry, repository, tag, pullPolicy: 'Never' };
}

/** Builds the image (podman, the stand-in runtime base) and imports it into the cluster's containerd. */
export async function importChartImage(cluster: LocalCluster, server: ChartServer): Promise<string> {
  const { binary, user, tag } = SERVERS[server];
  const context = mkdtempSync(join(tmpdir(), `vb-chart-image-${server}-`));
  try {
    const bin = join(context, 'bin');
    mkdirSync(bin);
    const busybox = execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
    copyFileSync(busybox, join(bin, 'busybox'));
    chmodSync(join(bin, 'busybox'), 0o755);
    for (const applet of APPLETS) symlinkSync('busybox', join(bin, applet));
    // The charts call /bin/sh by its path.
    mkdirSync(join(context, 'rootbin'));
    symlinkSync('/usr/local/bin/busybox', join(context, 'rootbin', 'sh'));
    copyFileSync(join(TOOLS, binary), join(bin, binary));
    chmodSync(join(bin, binary), 0o755);
    writeFileSync(
      join(context, 'passwd'),
      `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n${user}:x:100:1000:${user}:/home/${user}:/sbin/nologin\n`,
    );
    writeFileSync(join(context, 'group'), `root:x:0:\nnobody:x:65534:\n${user}:x:1000:\n`);
    writeFileSync(
      join(context, 'docker-entrypoint.sh'),
      '#!/bin/sh\n# Stand-in for the official image\'s entrypoint: as a non-root user with SKIP_CHOWN and\n# SKIP_SETCAP set (the charts set both), it runs its arguments.\nset -e\nulimit -c 0\nexec "$@"\n',
      { mode: 0o755 },
    );
    writeFileSync(
      join(context, 'Containerfile'),
      [
        'ARG BASE',
        'FROM ${BASE}',
        'COPY bin/ /usr/local/bin/',
        'COPY rootbin/ /bin/',
        'COPY passwd /etc/passwd',
        'COPY group /etc/group',
        'COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh',
        `USER 100:1000`,
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
        `CMD ["${binary}", "version"]`,
        '',
      ].join('\n'),
    );
    const bases = execFileSync('bash', [join(ROOT, 'scripts/image-bases.sh')], {
      encoding: 'utf8',
      env: { ...process.env, CONTAINERS_CONF: join(ROOT, 'scripts/podman-containers.conf') },
      maxBuffer: 16 * 1024 * 1024,
    });
    const base = /^RUNTIME_IMAGE=(.+)$/m.exec(bases)![1]!;
    await podman(['build', '--pull=never', '--quiet', '--build-arg', `BASE=${base}`, '--tag', tag, context], 600_000);
    const archive = join(context, 'image.tar');
    await podman(['save', '--quiet', '--format', 'docker-archive', '--output', archive, tag], 600_000);
    await cluster.ctr(['images', 'import', archive]);
    return tag;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
