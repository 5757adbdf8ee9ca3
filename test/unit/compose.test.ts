/**
 * docker-compose.yml, the Dockerfile and Grafana's provisioning, checked without Docker: every mount
 * and COPY names something that exists, every module the image runs is in it, each service's
 * environment passes that service's own configuration check, and the settings that must agree
 * across services (keys, URLs, topics, the ClickHouse user and database, datasource uids) do.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLICKHOUSE, PROMETHEUS } from '../../dashboards/src/datasources.ts';
import { type AuthConfig, loadAuthConfig } from '../../examples/auth-server/config.ts';
import { CONFIGURATION, type Config, loadConfig } from '../../service/config.ts';
import { type AttachOptions, attachOptions, attachRequested } from '../../tools/demo/attach.ts';
import { REPO_ROOT } from '../../tools/local-stack/paths.ts';
import { VPN_EGRESS_CIDR } from '../../tools/simulator/places.ts';
import { SIM_CLIENT } from '../../tools/simulator/ports.ts';

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string };
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | number | boolean> | string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  configs?: { source: string; target: string }[];
  healthcheck?: { test?: string[]; disable?: boolean };
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const compose = parse(read('docker-compose.yml')) as Compose;
const services = compose.services;
const service = (name: string): Service => {
  const s = services[name];
  if (s === undefined) throw new Error(`docker-compose.yml has no service ${JSON.stringify(name)}`);
  return s;
};

/** A service's environment as strings (compose takes a map or a KEY=value list). */
function envOf(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  if (Array.isArray(env))
    return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** The short volume syntax `source:target[:mode]`; a bind mount when the source is a path. */
function mountsOf(name: string) {
  return (service(name).volumes ?? []).map((v) => {
    const [source = '', target = '', mode = ''] = v.split(':');
    return { source, target, mode, bind: source.startsWith('.') || source.startsWith('/') };
  });
}

const dependsOn = (s: Service): Record<string, string> =>
  Array.isArray(s.depends_on)
    ? Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']))
    : Object.fromEntries(
        Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v.condition ?? 'service_started']),
      );

const builtHere = (s: Service) => s.build !== undefined;

/** host and port of an http URL or a host:port */
function endpoint(address: string): { host: string; port: number } {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname, port };
}

/** The container ports a service publishes (what other services reach it on, too). */
const containerPorts = (name: string) =>
  (service(name).ports ?? []).map((p) => Number(p.split(':').at(-1)?.split('/')[0]));

/**
 * A service's environment with every value that names one of its compose configs' targets replaced
 * by a temporary file holding that config's content, so that file-reading settings can be checked.
 */
function envWithConfigFiles(name: string): Record<string, string> {
  const env = envOf(name);
  const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-compose-'));
  for (const { source, target } of service(name).configs ?? []) {
    const config = compose.configs?.[source];
    const content = config?.content ?? (config?.file ? read(config.file) : undefined);
    if (content === undefined) throw new Error(`config ${source} has neither content nor file`);
    const file = join(dir, source);
    writeFileSync(file, content);
    for (const [k, v] of Object.entries(env)) if (v === target) env[k] = file;
  }
  return env;
}

const tokenwatchConfig = (): Config => loadConfig(envWithConfigFiles('tokenwatch'));
const authConfig = (): AuthConfig => loadAuthConfig(envOf('auth-server'));
const demoOptions = (): AttachOptions => attachOptions(envOf('demo'));

describe('docker-compose.yml', () => {
  it('has the whole system', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'alertmanager',
        'auth-server',
        'clickhouse',
        'demo',
        'grafana',
        'kafka',
        'prometheus',
        'tokenwatch',
      ].sort(),
    );
  });

  it('depends only on defined services, without cycles, waiting for health only where there is a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') {
          const d = service(dep);
          const check =
            d.healthcheck?.disable !== true && (d.healthcheck?.test !== undefined || builtHere(d));
          expect(check, `${name} waits for ${dep} to be healthy, which has no health check`).toBe(true);
        }
      }
    }
    const visiting = new Set<string>();
    const visit = (name: string, path: string[]) => {
      expect(visiting.has(name), `depends_on cycle: ${[...path, name].join(' → ')}`).toBe(false);
      visiting.add(name);
      for (const dep of Object.keys(dependsOn(service(name)))) visit(dep, [...path, name]);
      visiting.delete(name);
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('bind-mounts only paths that exist in the repository, read-only', () => {
    const binds = Object.keys(services).flatMap((name) =>
      mountsOf(name)
        .filter((m) => m.bind)
        .map((m) => ({ name, ...m })),
    );
    expect(binds.length).toBeGreaterThan(0);
    for (const { name, source, target, mode } of binds) {
      const path = resolve(REPO_ROOT, source);
      expect(existsSync(path), `${name}: ${source} (mounted at ${target}) does not exist`).toBe(true);
      // a file mounted where the container expects a file: Docker would make a missing one a directory
      if (/\.ya?ml$/.test(target)) expect(statSync(path).isFile(), `${source} must be a file`).toBe(true);
      expect(mode, `${name}: ${source} should be mounted :ro`).toBe('ro');
    }
  });

  it('declares every named volume and config it uses; configs have content', () => {
    for (const name of Object.keys(services)) {
      for (const m of mountsOf(name).filter((m) => !m.bind))
        expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
      for (const c of service(name).configs ?? []) {
        const config = compose.configs?.[c.source];
        expect(config, `${name}: config ${c.source}`).toBeDefined();
        expect(config?.content !== undefined || existsSync(join(REPO_ROOT, config?.file ?? '-'))).toBe(true);
      }
    }
  });

  it('publishes ports on the loopback interface only', () => {
    for (const [name, s] of Object.entries(services))
      for (const p of s.ports ?? []) expect(p, `${name} publishes ${p}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("passes tokenwatch's own configuration check, in Kafka mode with detectors, revocation and alerts", () => {
    const config = tokenwatchConfig();
    expect(config.kafka.brokers.length).toBeGreaterThan(0);
    expect(config.detect.enabled).toBe(true);
    expect(config.response.revocationUrl).not.toBe('');
    expect(config.response.webhooks.targets.map((t) => t.name).sort()).toEqual(['alertmanager', 'env']);
    expect(config.service.host).toBe('0.0.0.0');
    expect(containerPorts('tokenwatch')).toContain(config.service.port);
    expect(config.service.apiKeys.map((k) => k.tenant)).toContain('default');
    // every variable set is one tokenwatch reads (a setting of its configuration): no typos
    const settings = new Set(CONFIGURATION.flatMap((s) => Object.values(s.table).map((x) => x.env)));
    const unknown = Object.keys(envOf('tokenwatch')).filter((n) => !settings.has(n));
    expect(unknown).toEqual([]);
  });

  it("passes the auth server's configuration check, set up as the demo needs it", () => {
    const config = authConfig();
    expect(config.host).toBe('0.0.0.0');
    expect(containerPorts('auth-server')).toContain(config.port);
    expect(config.allowAnyUser).toBe(true); // the demo's users log in with any name
    expect(config.trustProxy).toBe(true); // they say where they are with X-Forwarded-For
    expect(config.reuseDetection).toBe(false); // replay is tokenwatch's to catch
    expect(config.adminToken).not.toBe('');
    const readme = read('examples/auth-server/README.md');
    for (const name of Object.keys(envOf('auth-server'))) expect(readme).toContain(`\`${name}\``);
  });

  it('has the auth server and tokenwatch agree on the revocation API, Kafka and ClickHouse', () => {
    const tw = tokenwatchConfig();
    const auth = authConfig();
    const revoke = new URL(tw.response.revocationUrl);
    expect(endpoint(tw.response.revocationUrl)).toEqual({ host: 'auth-server', port: auth.port });
    expect(revoke.pathname).toBe('/v1/revocations');
    expect(tw.response.auth.token).toBe(auth.revocationToken);
    expect(auth.tokenwatchKafkaBrokers).toEqual(tw.kafka.brokers);
    expect(tw.ingest.kafka.topics).toContain(auth.tokenwatchKafkaTopic);
    expect(tw.service.apiKeys.map((k) => k.tenant)).toContain(auth.tenant);

    const advertised = envOf('kafka')
      ['KAFKA_ADVERTISED_LISTENERS']!.split(',')
      .map((l) => l.split('://')[1]);
    for (const broker of tw.kafka.brokers) expect(advertised).toContain(broker);

    const ch = envOf('clickhouse');
    expect(endpoint(tw.clickhouse.url)).toEqual({ host: 'clickhouse', port: 8123 });
    expect(tw.clickhouse.user).toBe(ch['CLICKHOUSE_USER']);
    expect(tw.clickhouse.password).toBe(ch['CLICKHOUSE_PASSWORD']);

    for (const target of tw.response.webhooks.targets.filter((t) => t.name !== 'env')) {
      const { host, port } = endpoint(target.url);
      expect(Object.keys(services)).toContain(host);
      expect(containerPorts(host)).toContain(port);
    }
  });

  it('runs the demo in attach mode against the services of this file, with their keys', () => {
    const demo = service('demo');
    expect(
      attachRequested(
        [...(demo.entrypoint ?? []), ...(demo.command ?? [])].includes('--attach'),
        envOf('demo'),
      ),
    ).toBe(true);
    expect(demo.entrypoint?.slice(0, 2)).toEqual(['node', 'tools/demo/demo.ts']);
    const o = demoOptions();
    const tw = tokenwatchConfig();
    const auth = authConfig();
    expect(endpoint(o.tokenwatchUrl)).toEqual({ host: 'tokenwatch', port: tw.service.port });
    expect(endpoint(o.authUrl)).toEqual({ host: 'auth-server', port: auth.port });
    expect(auth.issuer).toBe(o.authUrl); // the orders API checks iss against the URL it uses
    expect(tw.service.apiKeys).toContainEqual({ tenant: 'default', key: o.apiKey });
    expect(tw.service.readApiKeys.map((k) => k.key)).toContain(o.readKey);
    expect(o.authAdminToken).toBe(auth.adminToken);
    // the simulated apps log out as SIM_CLIENT; the simulated VPN's egress is not a place
    expect(auth.clients).toContainEqual({ id: SIM_CLIENT.id, secret: SIM_CLIENT.secret, scopes: ['revoke'] });
    expect(envOf('tokenwatch')['TOKENWATCH_DETECT_ALLOWLIST']).toBe(VPN_EGRESS_CIDR);
    expect(o.brokers).toEqual(tw.kafka.brokers);
    expect(tw.ingest.kafka.topics).toContain(o.eventsTopic);
    expect(o.revocationsTopic).toBe(tw.response.revocationsTopic);
    expect({ ...o.clickhouse, url: endpoint(o.clickhouse.url) }).toEqual({
      url: endpoint(tw.clickhouse.url),
      username: tw.clickhouse.user,
      password: tw.clickhouse.password,
      database: tw.clickhouse.database,
    });
    // tokenwatch's signed alerts go to the demo's receiver, with the secret it checks them with
    const hook = tw.response.webhooks.targets.find((t) => t.name === 'env');
    expect(hook).toBeDefined();
    expect(o.webhook).toBeDefined();
    expect(endpoint(hook!.url)).toEqual({ host: 'demo', port: o.webhook!.port });
    expect(hook!.secret).toBe(o.webhook!.secret);
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .map((l) => l.trim());
  const workdir = lines.find((l) => l.startsWith('WORKDIR '))?.split(/\s+/)[1] ?? '/';

  interface Stage {
    name: string;
    /** the stage it starts FROM, when that is a stage of this file */
    parent: string | undefined;
    lines: string[];
  }
  /** The build stages, in order: `FROM <image or stage> AS <name>` and the lines under it. */
  const stages: Stage[] = [];
  for (const l of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l);
    if (from !== null) {
      const base = from[1]!;
      stages.push({
        name: from[2] ?? `stage${stages.length}`,
        parent: stages.some((s) => s.name === base) ? base : undefined,
        lines: [],
      });
    } else stages.at(-1)?.lines.push(l);
  }
  const stage = (name: string) => {
    const s = stages.find((x) => x.name === name);
    if (s === undefined) throw new Error(`the Dockerfile has no stage ${JSON.stringify(name)}`);
    return s;
  };
  /** A stage's lines, its parents' first. */
  const linesOf = (name: string): string[] => {
    const s = stage(name);
    return [...(s.parent === undefined ? [] : linesOf(s.parent)), ...s.lines];
  };
  /** COPY sources of a stage (its parents' included), as repository paths; each lands at the same path under WORKDIR. */
  const copiesOf = (name: string) =>
    linesOf(name)
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from'))
      .flatMap((l) => {
        const parts = l
          .split(/\s+/)
          .slice(1)
          .filter((p) => !p.startsWith('--'));
        const dest = parts.at(-1)!;
        return parts.slice(0, -1).map((source) => ({ source: posix.normalize(source), dest }));
      });
  /** The default target is the last stage. */
  const product = stages.at(-1)!.name;
  /** The stage a compose service builds. */
  const targetOf = (s: Service) =>
    typeof s.build === 'object' && s.build.target !== undefined ? s.build.target : product;

  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim().replace(/^\/+|\/+$/g, ''))
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'));
  /** Whether .dockerignore keeps `path` out of the build context (the simple patterns it uses). */
  const isIgnored = (path: string) =>
    ignored.some((pattern) => {
      const regex = new RegExp(
        `^${pattern
          .split('/')
          .map((seg) =>
            seg === '**'
              ? '(?:.*/)?'
              : `${seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}/`,
          )
          .join('')}`,
      );
      return regex.test(`${path}/`);
    });

  it('copies only what exists and what the build context keeps', () => {
    for (const { name } of stages) {
      for (const { source, dest } of copiesOf(name)) {
        expect(existsSync(join(REPO_ROOT, source)), `COPY ${source}`).toBe(true);
        expect(isIgnored(source), `COPY ${source}, but .dockerignore leaves it out`).toBe(false);
        // each file lands at its repository path under WORKDIR (imports are relative)
        const landing = posix.normalize(posix.join(workdir, dest.endsWith('/') ? `${dest}${source}` : dest));
        expect(landing, `COPY ${source} ${dest}`).toBe(posix.join(workdir, source));
      }
    }
    expect(isIgnored('node_modules')).toBe(true);
    expect(isIgnored('sdk/node_modules')).toBe(true);
    expect(isIgnored('.state')).toBe(true);
  });

  /** Every module `entry` imports, transitively (relative imports), and the packages they import. */
  function importClosure(entries: string[]) {
    const modules = new Set<string>();
    const packages = new Set<string>();
    const walk = (file: string) => {
      if (modules.has(file)) return;
      modules.add(file);
      const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      for (const { fileName } of importedFiles) {
        if (fileName.startsWith('.')) {
          const target = resolve(dirname(file), fileName);
          expect(existsSync(target), `${relative(REPO_ROOT, file)} imports ${fileName}`).toBe(true);
          walk(target);
        } else if (!fileName.startsWith('node:') && !builtinModules.includes(fileName)) {
          const parts = fileName.split('/');
          packages.add(fileName.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
        }
      }
    };
    for (const entry of entries) walk(join(REPO_ROOT, entry));
    return { modules: [...modules].map((m) => relative(REPO_ROOT, m)), packages: [...packages] };
  }

  const entrypointOf = (name: string): string => {
    const line = linesOf(name).findLast((l) => l.startsWith('ENTRYPOINT '));
    return (JSON.parse(line!.slice('ENTRYPOINT '.length)) as string[])[1]!;
  };
  /** What each stage runs: its own entrypoint and the ones docker-compose.yml gives the services built from it. */
  const entries = (name: string) => {
    const fromCompose = Object.values(services)
      .filter((s) => builtHere(s) && targetOf(s) === name)
      .flatMap((s) => (s.entrypoint ? [s.entrypoint[1]!] : []));
    return [...new Set([entrypointOf(name), ...fromCompose])].sort();
  };

  it('builds tokenwatch from the product image (the default) and its companions from the demo image', () => {
    expect(product).toBe('product');
    expect(entries('product')).toEqual(['service/cli.ts']);
    expect(entries('demo')).toEqual(['examples/auth-server/main.ts', 'tools/demo/demo.ts']);
  });

  it('each image holds every module its entrypoints import', () => {
    for (const name of ['product', 'demo']) {
      const { modules } = importClosure(entries(name));
      expect(modules.length).toBeGreaterThan(50);
      const copied = copiesOf(name).map((c) => c.source);
      const missing = modules.filter((m) => !copied.some((c) => m === c || m.startsWith(`${c}/`)));
      expect(missing, `modules the ${name} image runs but the Dockerfile does not copy`).toEqual([]);
      expect(modules.filter(isIgnored), 'modules .dockerignore leaves out').toEqual([]);
    }
  });

  it('the product image holds the product only: no SDK, examples, tools, tests or docs', () => {
    const copied = copiesOf('product').map((c) => c.source);
    expect(copied.filter((c) => /^(sdk|examples|tools|test|docs|dashboards)(\/|$)/.test(c))).toEqual([]);
    const { modules } = importClosure(entries('product'));
    expect(modules.filter((m) => /^(sdk|examples|tools)\//.test(m))).toEqual([]);
  });

  it('puts the NOTICE (the attribution of the bundled GeoLite2 data) into both images', () => {
    for (const name of ['product', 'demo'])
      expect(
        copiesOf(name).map((c) => c.source),
        name,
      ).toContain('NOTICE');
  });

  it('needs no devDependencies at run time (npm ci --omit=dev)', () => {
    expect(lines.some((l) => l.includes('npm ci --omit=dev'))).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const { packages } = importClosure([...entries('product'), ...entries('demo')]);
    expect(packages.filter((p) => !(p in pkg.dependencies)).sort()).toEqual([]);
  });
});

describe('Grafana provisioning', () => {
  interface Datasource {
    name: string;
    uid: string;
    type: string;
    url?: string;
    isDefault?: boolean;
    jsonData?: Record<string, unknown>;
    secureJsonData?: Record<string, string>;
  }
  const { datasources } = parse(read('dashboards/provisioning/datasources/tokenwatch.yaml')) as {
    datasources: Datasource[];
  };
  const byUid = (uid: string) => {
    const ds = datasources.find((d) => d.uid === uid);
    if (ds === undefined) throw new Error(`no provisioned datasource with uid ${uid}`);
    return ds;
  };
  const grafanaMount = (source: string) => mountsOf('grafana').find((m) => m.source === source);

  it("creates the datasources the dashboards use, with dashboards/src/datasources.ts' uids and types", () => {
    expect(byUid(CLICKHOUSE.uid).type).toBe(CLICKHOUSE.type);
    expect(byUid(PROMETHEUS.uid).type).toBe(PROMETHEUS.type);
    expect(datasources.filter((d) => d.isDefault).map((d) => d.uid)).toEqual([PROMETHEUS.uid]);
    expect(new Set(datasources.map((d) => d.uid)).size).toBe(datasources.length);
  });

  it("reads tokenwatch's ClickHouse database as a read-only user the compose stack creates", () => {
    const ds = byUid(CLICKHOUSE.uid);
    const ch = envOf('clickhouse');
    const tw = tokenwatchConfig();
    const source = './dashboards/clickhouse/grafana-user.sql';
    expect(mountsOf('clickhouse').find((m) => m.source === source)?.target).toBe(
      '/docker-entrypoint-initdb.d/grafana-user.sql',
    );
    const sql = readFileSync(`${REPO_ROOT}${source.slice(2)}`, 'utf8');
    const user = /CREATE USER OR REPLACE (\w+) IDENTIFIED WITH sha256_password BY '([^']+)'/.exec(sql);
    expect(user, 'grafana-user.sql creates a user with a password').not.toBeNull();
    expect(ds.jsonData).toMatchObject({
      host: 'clickhouse',
      port: endpoint(tw.clickhouse.url).port,
      protocol: 'http',
      username: user![1],
      defaultDatabase: tw.clickhouse.database,
    });
    expect(ds.secureJsonData?.['password']).toBe(user![2]);
    expect(user![1]).not.toBe(ch['CLICKHOUSE_USER']);
    expect(sql).toMatch(/readonly = 2 CONST, allow_ddl = 0 CONST/);
    expect(sql).toContain(`GRANT SELECT ON ${tw.clickhouse.database}.* TO ${user![1]};`);
    expect(sql).not.toMatch(/GRANT (?!SELECT ON)/);
    expect(envOf('grafana')['GF_PLUGINS_PREINSTALL_SYNC']?.split(',')).toContain(CLICKHOUSE.type);
  });

  it('points the Prometheus and Alertmanager datasources at those services', () => {
    for (const ds of datasources.filter((d) => d.url !== undefined)) {
      const { host, port } = endpoint(ds.url!);
      expect(Object.keys(services)).toContain(host);
      expect(containerPorts(host)).toContain(port);
    }
    expect(endpoint(byUid(PROMETHEUS.uid).url!).host).toBe('prometheus');
  });

  it('loads the dashboards from where the compose file mounts dashboards/json', () => {
    expect(grafanaMount('./dashboards/provisioning')?.target).toBe('/etc/grafana/provisioning');
    const { providers } = parse(read('dashboards/provisioning/dashboards/tokenwatch.yaml')) as {
      providers: { type: string; folder: string; options: { path: string } }[];
    };
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: 'file', folder: 'tokenwatch' });
    expect(providers[0]!.options.path).toBe(grafanaMount('./dashboards/json')?.target);
    expect(service('grafana').image).toMatch(/^grafana\/grafana:12\.\d+\.\d+$/);
  });

  it('provisions every datasource uid the committed dashboards name', () => {
    const files = readdirSync(join(REPO_ROOT, 'dashboards/json')).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const uids = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (typeof node === 'object' && node !== null) {
        const ds = (node as { datasource?: unknown }).datasource;
        if (typeof ds === 'object' && ds !== null && typeof (ds as { uid?: unknown }).uid === 'string')
          uids.add((ds as { uid: string }).uid);
        Object.values(node).forEach(collect);
      }
    };
    for (const f of files) collect(JSON.parse(read(`dashboards/json/${f}`)));
    const provisioned = datasources.map((d) => d.uid);
    // Grafana's own pseudo-datasources and template variables aside
    const named = [...uids].filter((u) => !u.startsWith('-- ') && !u.startsWith('$') && u !== 'grafana');
    expect(named.filter((u) => !provisioned.includes(u))).toEqual([]);
  });
});

describe('Prometheus and Alertmanager', () => {
  const mount = (name: string, source: string) => mountsOf(name).find((m) => m.source === source)?.target;

  it('mount the files of dashboards/prometheus where the images read them', () => {
    expect(mount('prometheus', './dashboards/prometheus/prometheus.yml')).toBe(
      '/etc/prometheus/prometheus.yml',
    );
    expect(mount('prometheus', './dashboards/prometheus/rules.yml')).toBe('/etc/prometheus/rules.yml');
    expect(mount('alertmanager', './dashboards/prometheus/alertmanager.yml')).toBe(
      '/etc/alertmanager/alertmanager.yml',
    );
  });

  it("finds prometheus.yml's rule files, Alertmanager and tokenwatch where the compose file puts them", () => {
    const config = parse(read('dashboards/prometheus/prometheus.yml')) as {
      global?: { scrape_interval?: string };
      rule_files?: string[];
      alerting?: { alertmanagers?: { static_configs?: { targets: string[] }[] }[] };
      scrape_configs?: { job_name: string; static_configs?: { targets: string[] }[] }[];
    };
    const configDir = posix.dirname(mount('prometheus', './dashboards/prometheus/prometheus.yml')!);
    const targets = mountsOf('prometheus').map((m) => m.target);
    expect(config.rule_files?.length).toBeGreaterThan(0);
    for (const file of config.rule_files ?? []) expect(targets).toContain(posix.resolve(configDir, file));

    const alertmanagers = (config.alerting?.alertmanagers ?? []).flatMap((a) =>
      (a.static_configs ?? []).flatMap((s) => s.targets),
    );
    expect(alertmanagers.length).toBeGreaterThan(0);
    for (const t of alertmanagers) {
      const { host, port } = endpoint(t);
      expect(host).toBe('alertmanager');
      expect(containerPorts('alertmanager')).toContain(port);
    }

    const job = config.scrape_configs?.find((j) => j.job_name === 'tokenwatch');
    const scraped = (job?.static_configs ?? []).flatMap((s) => s.targets);
    expect(scraped.map(endpoint)).toEqual([{ host: 'tokenwatch', port: tokenwatchConfig().service.port }]);

    // the Prometheus datasource's minimum step is the scrape interval
    const { datasources } = parse(read('dashboards/provisioning/datasources/tokenwatch.yaml')) as {
      datasources: { uid: string; jsonData?: { timeInterval?: string } }[];
    };
    const prom = datasources.find((d) => d.uid === PROMETHEUS.uid);
    expect(prom?.jsonData?.timeInterval).toBe(config.global?.scrape_interval ?? '1m');
  });
});

describe('demo attach options', () => {
  const required = { DEMO_API_KEY: 'k'.repeat(20), DEMO_AUTH_ADMIN_TOKEN: 'a'.repeat(20) };
  const problems = (env: Record<string, string>): string => {
    try {
      attachOptions(env);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected attachOptions to throw');
  };

  it('is asked for by --attach or DEMO_ATTACH', () => {
    expect(attachRequested(true, {})).toBe(true);
    expect(attachRequested(false, {})).toBe(false);
    expect(attachRequested(false, { DEMO_ATTACH: 'true' })).toBe(true);
    expect(attachRequested(false, { DEMO_ATTACH: '1' })).toBe(true);
    expect(attachRequested(false, { DEMO_ATTACH: 'false' })).toBe(false);
    expect(() => attachRequested(false, { DEMO_ATTACH: 'maybe' })).toThrow(/DEMO_ATTACH="maybe"/);
  });

  it('defaults to where docker compose publishes the services on the host', () => {
    expect(attachOptions(required)).toEqual({
      tokenwatchUrl: 'http://127.0.0.1:8080',
      authUrl: 'http://127.0.0.1:8090',
      brokers: ['127.0.0.1:29092'],
      clickhouse: { url: 'http://127.0.0.1:8123', username: 'default', password: '', database: 'tokenwatch' },
      eventsTopic: 'tokenwatch.events',
      revocationsTopic: 'tokenwatch.revocations',
      apiKey: required.DEMO_API_KEY,
      readKey: '',
      authAdminToken: required.DEMO_AUTH_ADMIN_TOKEN,
      webhook: undefined,
      waitSeconds: 300,
    });
  });

  it('reads every setting, trimming a trailing slash', () => {
    const o = attachOptions({
      ...required,
      DEMO_TOKENWATCH_URL: 'http://tokenwatch:8080/',
      DEMO_AUTH_URL: 'https://auth.example',
      DEMO_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092',
      DEMO_CLICKHOUSE_URL: 'http://clickhouse:8123',
      DEMO_CLICKHOUSE_USER: 'tw',
      DEMO_CLICKHOUSE_PASSWORD: 'secret',
      DEMO_CLICKHOUSE_DATABASE: 'tw_db',
      DEMO_EVENTS_TOPIC: 'ev',
      DEMO_REVOCATIONS_TOPIC: 'rev',
      DEMO_READ_KEY: 'r'.repeat(20),
      DEMO_WEBHOOK_PORT: '8099',
      DEMO_WEBHOOK_SECRET: 's3cret',
      DEMO_WAIT_SECONDS: '60',
    });
    expect(o).toMatchObject({
      tokenwatchUrl: 'http://tokenwatch:8080',
      authUrl: 'https://auth.example',
      brokers: ['kafka-1:9092', 'kafka-2:9092'],
      clickhouse: { url: 'http://clickhouse:8123', username: 'tw', password: 'secret', database: 'tw_db' },
      eventsTopic: 'ev',
      revocationsTopic: 'rev',
      webhook: { port: 8099, secret: 's3cret' },
      waitSeconds: 60,
    });
  });

  it('names every bad or missing variable at once', () => {
    const message = problems({
      DEMO_TOKENWATCH_URL: 'tokenwatch:8080',
      DEMO_KAFKA_BROKERS: 'kafka',
      DEMO_CLICKHOUSE_DATABASE: 'my-db',
      DEMO_WEBHOOK_PORT: '99999',
      DEMO_WAIT_SECONDS: 'soon',
    });
    for (const name of [
      'DEMO_API_KEY',
      'DEMO_AUTH_ADMIN_TOKEN',
      'DEMO_TOKENWATCH_URL',
      'DEMO_KAFKA_BROKERS',
      'DEMO_CLICKHOUSE_DATABASE',
      'DEMO_WEBHOOK_PORT',
      'DEMO_WAIT_SECONDS',
    ])
      expect(message).toContain(name);
    expect(problems({ ...required, DEMO_WEBHOOK_PORT: '8099' })).toMatch(/DEMO_WEBHOOK_SECRET is required/);
    expect(problems({ ...required, DEMO_AUTH_URL: 'http://auth:8090/v1' })).toMatch(/DEMO_AUTH_URL/);
  });
});

describe('docs/operations.md, "Docker Compose"', () => {
  const section = read('docs/operations.md').split('\n## Docker Compose\n')[1]?.split('\n## ')[0] ?? '';

  it('has a row for every service of docker-compose.yml', () => {
    expect(section).not.toBe('');
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    const named = new Set(
      rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)),
    );
    expect(Object.keys(services).filter((s) => !named.has(s))).toEqual([]);
    expect([...named].filter((s) => !(s in services))).toEqual([]);
  });

  it('gives the keys and the admin token the stack really uses', () => {
    const tw = tokenwatchConfig();
    const eventKey = tw.service.apiKeys.find((k) => k.tenant === 'default')?.key;
    const readKey = tw.service.readApiKeys.find((k) => k.tenant === '*')?.key;
    for (const secret of [eventKey, readKey, authConfig().adminToken]) {
      expect(secret).toBeDefined();
      expect(section).toContain(`\`${secret}\``);
    }
  });
});
