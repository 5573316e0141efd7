import { describe, expect, it } from 'bun:test';
import { loadConfig } from '@mc/shared/config';
import { checkOutboundUrl, classifyIp, OutboundRefusedError, parseIp, type Resolver } from '@mc/worker/tasks/outbound-guard';
import { createHttpTask } from '@mc/worker/tasks/http';
import { NonRetryableTaskError, type TaskRunContext } from '@mc/worker/tasks/task-context';

/** DNS answers the test controls; records every name asked, so "no lookup happened" is checkable. */
function fakeDns(answers: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = (async (host: string) => {
    asked.push(host);
    const a = answers[host];
    if (!a) throw new Error(`ENOTFOUND ${host}`);
    return a;
  }) as Resolver & { asked: string[] };
  resolve.asked = asked;
  return resolve;
}

const dns = fakeDns({
  'api.example.com': ['93.184.216.34'],
  'v6.example.com': ['2606:2800:220:1:248:1893:25c8:1946'],
  'internal.example.com': ['10.0.0.5'],
  'mixed.example.com': ['93.184.216.34', '192.168.1.7'],
  'mapped.example.com': ['::ffff:169.254.169.254'],
  'localhost': ['127.0.0.1', '::1'],
  'loop.example.com': ['127.0.0.1'],
});
const allowedHosts = [
  'api.example.com',
  'v6.example.com',
  'internal.example.com',
  'mixed.example.com',
  'mapped.example.com',
  'loop.example.com:8080',
  '127.0.0.1:4000',
  '169.254.169.254',
  '[::1]:4000',
];
const guard = { allowedHosts, resolve: dns };

describe('checkOutboundUrl refuses', () => {
  const refused: [url: string, reason: RegExp][] = [
    ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is link-local .*never allowed/],
    ['http://10.0.0.1/', /10\.0\.0\.1 is private \(10\.0\.0\.0\/8\)/],
    ['http://[::ffff:10.0.0.1]/', /private \(10\.0\.0\.0\/8\) via an IPv4-mapped IPv6 address/],
    ['http://[::ffff:a9fe:a9fe]/', /link-local .* via an IPv4-mapped/],
    ['http://2130706433/', /127\.0\.0\.1 is loopback/],
    ['http://0x7f.1/', /127\.0\.0\.1 is loopback/],
    ['http://017700000001/', /127\.0\.0\.1 is loopback/],
    ['http://0xa9.0xfe.0xa9.0xfe/', /169\.254\.169\.254 is link-local/],
    ['http://127.0.0.1:4001/', /loopback .*only an address listed/],
    ['http://[::1]/', /loopback \(::1\)/],
    ['http://[fe80::1]/', /link-local \(fe80::\/10\)/],
    ['http://[fd00:ec2::254]/', /cloud metadata endpoint/],
    ['http://[fc00::1]/', /unique local/],
    ['http://0.0.0.0/', /0\.0\.0\.0\/8/],
    ['http://100.64.1.1/', /carrier-grade NAT/],
    ['http://100.100.100.200/', /cloud metadata endpoint/],
    ['http://172.20.0.1/', /private \(172\.16\.0\.0\/12\)/],
    ['http://192.168.0.1/', /private \(192\.168\.0\.0\/16\)/],
    ['http://224.0.0.1/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://[ff02::1]/', /multicast/],
    ['http://[2002:a00:1::]/', /via 6to4/],
    ['http://localhost/', /host localhost is not in MC_HTTP_ALLOWED_HOSTS/],
    ['http://localhost:4000/', /host localhost:4000 is not in MC_HTTP_ALLOWED_HOSTS/],
    ['http://evil.example.net/', /host evil\.example\.net is not in MC_HTTP_ALLOWED_HOSTS/],
    ['http://loop.example.com:9090/', /not in MC_HTTP_ALLOWED_HOSTS/],
    ['http://internal.example.com/', /internal\.example\.com resolves to 10\.0\.0\.5, which is private/],
    ['http://mixed.example.com/', /mixed\.example\.com resolves to 192\.168\.1\.7, which is private/],
    ['http://mapped.example.com/', /resolves to ::ffff:169\.254\.169\.254, which is link-local/],
    ['http://loop.example.com:8080/', /resolves to 127\.0\.0\.1, which is loopback/],
    ['file:///etc/passwd', /only http and https/],
    ['gopher://api.example.com/', /only http and https/],
    ['not a url', /not a valid URL/],
  ];
  for (const [url, reason] of refused) {
    it(url, async () => {
      const err = await checkOutboundUrl(url, guard).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OutboundRefusedError);
      expect(err).toBeInstanceOf(NonRetryableTaskError);
      expect((err as Error).message).toMatch(reason);
    });
  }

  it('does not resolve a name that is not allow-listed, nor a literal address', async () => {
    const resolve = fakeDns({ 'evil.example.net': ['93.184.216.34'] });
    await expect(checkOutboundUrl('http://evil.example.net/', { allowedHosts, resolve })).rejects.toThrow(/not in MC_HTTP_ALLOWED_HOSTS/);
    await expect(checkOutboundUrl('http://169.254.169.254/', { allowedHosts, resolve })).rejects.toThrow(/link-local/);
    expect(resolve.asked).toEqual([]);
  });

  it('treats a failed lookup as retryable, not as a refusal', async () => {
    const err = await checkOutboundUrl('http://api.example.com/', { allowedHosts, resolve: fakeDns({}) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(NonRetryableTaskError);
  });
});

describe('checkOutboundUrl allows and pins', () => {
  it('pins a public name to the checked address, keeping the name for Host and TLS', async () => {
    const t = await checkOutboundUrl('https://api.example.com/v1/x?y=1', guard);
    expect(t.address).toBe('93.184.216.34');
    expect(t.connectUrl.href).toBe('https://93.184.216.34/v1/x?y=1');
    expect(t.hostHeader).toBe('api.example.com');
    expect(t.serverName).toBe('api.example.com');
  });

  it('pins an IPv6 answer in brackets', async () => {
    const t = await checkOutboundUrl('http://v6.example.com:8443/', guard);
    expect(t.family).toBe(6);
    expect(t.connectUrl.host).toBe('[2606:2800:220:1:248:1893:25c8:1946]:8443');
    expect(t.hostHeader).toBe('v6.example.com:8443');
    expect(t.serverName).toBeUndefined();
  });

  it('allows loopback only where the address itself is listed (with its port)', async () => {
    const t = await checkOutboundUrl('http://127.0.0.1:4000/sink', guard);
    expect(t.connectUrl.href).toBe('http://127.0.0.1:4000/sink');
    expect((await checkOutboundUrl('http://[::1]:4000/', guard)).address).toBe('::1');
    // Listing the name is not enough for a name that resolves to loopback; listing the address is.
    const both = { allowedHosts: ['loop.example.com:8080', '127.0.0.1:8080'], resolve: dns };
    expect((await checkOutboundUrl('http://loop.example.com:8080/', both)).address).toBe('127.0.0.1');
  });

  it('matches host:port entries against the default port', async () => {
    const t = await checkOutboundUrl('https://api.example.com/', { allowedHosts: ['api.example.com:443'], resolve: dns });
    expect(t.address).toBe('93.184.216.34');
    await expect(checkOutboundUrl('http://api.example.com/', { allowedHosts: ['api.example.com:443'], resolve: dns })).rejects.toThrow(/not in/);
  });
});

describe('IP classification', () => {
  it('parses and keys IPv4 and IPv6 forms', () => {
    expect(parseIp('[::ffff:10.0.0.1]')?.key).toBe(parseIp('::ffff:a00:1')?.key);
    expect(parseIp('0:0::1')?.key).toBe(parseIp('::1')?.key);
    expect(parseIp('fe80::1%eth0')?.family).toBe(6);
    for (const bad of ['1.2.3', '256.1.1.1', '1::2::3', 'example.com', '1:2:3:4:5:6:7:8:9', '']) expect(parseIp(bad)).toBeNull();
  });

  it('lets public addresses through', () => {
    for (const ok of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '64:ff9b::808:808', '172.32.0.1', '100.128.0.1']) {
      expect(classifyIp(parseIp(ok)!)).toBeNull();
    }
  });
});

describe('pkg:mc/http through the guard', () => {
  function runCtx(input: Record<string, unknown>, allowed: string[]): TaskRunContext<never> {
    const config = loadConfig({ DATABASE_URL: 'postgres://unused@127.0.0.1/unused', MC_HTTP_ALLOWED_HOSTS: allowed.join(',') });
    return {
      executionId: 'e',
      taskId: 't',
      attempt: 1,
      idempotencyKey: 'k',
      input: { method: 'GET', ...input },
      signal: new AbortController().signal,
      config,
      log: async () => {},
    } as unknown as TaskRunContext<never>;
  }

  it('attempts no connection to a refused target', async () => {
    const calls: URL[] = [];
    const task = createHttpTask({ resolve: dns, fetch: async (url) => (calls.push(url), new Response('no')) });
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/', 'http://internal.example.com/']) {
      await expect(task(runCtx({ url }, ['169.254.169.254', 'internal.example.com']))).rejects.toThrow(NonRetryableTaskError);
    }
    expect(calls).toEqual([]);
  });

  it('connects to the checked address even if DNS would now answer differently (rebinding)', async () => {
    let answer = '93.184.216.34';
    const rebinding: Resolver = async () => {
      const a = answer;
      answer = '169.254.169.254'; // every later lookup points at the metadata endpoint
      return [a];
    };
    const seen: { url: string; host: string | null; serverName: string | undefined }[] = [];
    const task = createHttpTask({
      resolve: rebinding,
      fetch: async (url, init) => {
        seen.push({ url: url.href, host: new Headers(init.headers).get('host'), serverName: init.tls?.serverName });
        return Response.json({ ok: true });
      },
    });
    await task(runCtx({ url: 'https://api.example.com/a', headers: { Host: '169.254.169.254' } }, ['api.example.com']));
    expect(seen).toEqual([{ url: 'https://93.184.216.34/a', host: 'api.example.com', serverName: 'api.example.com' }]);
  });

  it('refuses a redirect to a blocked target, naming it, and drops caller headers across origins', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const hops: Record<string, Response | (() => Response)> = {};
    const task = createHttpTask({
      resolve: dns,
      fetch: async (url, init) => {
        seen.push({ url: url.href, auth: new Headers(init.headers).get('authorization') });
        const r = hops[url.href];
        if (!r) throw new Error(`unexpected fetch ${url.href}`);
        return typeof r === 'function' ? r() : r;
      },
    });
    hops['https://93.184.216.34/start'] = () => new Response(null, { status: 302, headers: { location: 'https://v6.example.com/next' } });
    hops['https://[2606:2800:220:1:248:1893:25c8:1946]/next'] = () => new Response(null, { status: 307, headers: { location: 'http://169.254.169.254/latest/meta-data?x=1' } });
    const err = await task(runCtx({ url: 'https://api.example.com/start', headers: { authorization: 'Bearer s3cret' } }, allowedHosts)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableTaskError);
    expect((err as Error).message).toBe('redirect to http://169.254.169.254/latest/meta-data refused: 169.254.169.254 is link-local (169.254.0.0/16, where cloud metadata endpoints live), never allowed');
    expect(seen).toEqual([
      { url: 'https://93.184.216.34/start', auth: 'Bearer s3cret' },
      { url: 'https://[2606:2800:220:1:248:1893:25c8:1946]/next', auth: null },
    ]);
  });

  it('follows at most 5 redirects', async () => {
    let n = 0;
    const task = createHttpTask({ resolve: dns, fetch: async () => new Response(null, { status: 302, headers: { location: `/hop${++n}` } }) });
    await expect(task(runCtx({ url: 'http://api.example.com/' }, allowedHosts))).rejects.toThrow(/too many redirects \(more than 5\), last to http:\/\/api\.example\.com\/hop6/);
    expect(n).toBe(6);
  });
});
