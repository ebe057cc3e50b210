// test/mcp/tap.mjs: TAP output for the client scripts (clients.mjs,
// clients-v2.mjs).  Lines are kept until finish() prints the plan and them,
// so the plan comes first; test/t/85-mcp-clients.t renumbers them in turn.
let n = 0;
let failed = 0;
const out = [];

export function ok(cond, desc, diag) {
  n += 1;
  out.push(`${cond ? 'ok' : 'not ok'} ${n} - ${desc}`);
  if (!cond) {
    failed += 1;
    if (diag !== undefined) {
      for (const line of String(typeof diag === 'string' ? diag : JSON.stringify(diag)).split('\n').slice(0, 15)) {
        out.push(`#   ${line}`);
      }
    }
  }
}

export function skip(desc, why) {
  n += 1;
  out.push(`ok ${n} - ${desc} # SKIP ${why}`);
}

// finish prints the plan and the results, and exits 1 when anything failed
export function finish() {
  console.log(`1..${n}`);
  console.log(out.join('\n'));
  process.exit(failed ? 1 : 0);
}

// canonical: JSON text with object keys sorted, to compare values whatever
// the order of their keys (a result's text and its structuredContent)
export function canonical(v) {
  const sort = (x) => (Array.isArray(x) ? x.map(sort)
    : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k])])) : x);
  return JSON.stringify(sort(v));
}
