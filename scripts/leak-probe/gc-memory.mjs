// Run inside the target's netns: full GC in the process whose inspector listens on 9229, print memoryUsage (kB).
const list = await (await fetch('http://127.0.0.1:9229/json/list')).json();
const ws = new WebSocket(list[0].webSocketDebuggerUrl);
await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
let id = 0; const waiting = new Map();
ws.onmessage = (e) => { const m = JSON.parse(String(e.data)); if (m.id !== undefined) waiting.get(m.id)?.(m.result); };
const call = (method, params = {}) => new Promise((r) => { const i = ++id; waiting.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
await call('HeapProfiler.collectGarbage');
const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
const m = JSON.parse(r.result.value);
console.log(JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v / 1024)]))));
ws.close();
