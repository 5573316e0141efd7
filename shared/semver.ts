/**
 * Semantic-version precedence (semver.org §11): numeric major.minor.patch, then a release above
 * its pre-releases, pre-release identifiers compared numerically or lexically; build metadata ignored.
 */
export function compareSemver(a: string, b: string): number {
  const [coreA, preA] = split(a);
  const [coreB, preB] = split(b);
  for (let i = 0; i < 3; i++) {
    const d = (coreA[i] ?? 0) - (coreB[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (preA.length === 0 || preB.length === 0) return preA.length === preB.length ? 0 : preA.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(preA.length, preB.length); i++) {
    const x = preA[i];
    const y = preB[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Math.sign(Number(x) - Number(y));
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function split(v: string): [number[], string[]] {
  const noBuild = v.split('+')[0]!;
  const dash = noBuild.indexOf('-');
  const core = (dash === -1 ? noBuild : noBuild.slice(0, dash)).split('.').map(Number);
  const pre = dash === -1 ? [] : noBuild.slice(dash + 1).split('.');
  return [core, pre];
}
