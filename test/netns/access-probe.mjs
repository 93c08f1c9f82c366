// A connection probe for the access-control netns test (plain node, no tsx: it starts fast).
//   node access-probe.mjs serve PORT...          TCP and UDP: echo; prints "ready"
//   node access-probe.mjs tcp|udp IP PORT MS     exit 0 when connected / echoed within MS, else 1
//   node access-probe.mjs hold IP PORT           one TCP connection: a byte every 100 ms, a line per echo
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'serve') {
  let pending = rest.length * 2;
  const ready = () => --pending === 0 && console.log('ready');
  for (const port of rest.map(Number)) {
    net.createServer((socket) => socket.on('error', () => {}).pipe(socket)).listen(port, '0.0.0.0', ready);
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, from) => udp.send(msg, from.port, from.address));
    udp.bind(port, '0.0.0.0', ready);
  }
} else if (mode === 'hold') {
  const socket = net.connect(Number(rest[1]), rest[0], () => setInterval(() => socket.write('x'), 100));
  socket.on('data', (data) => console.log(`echo ${data.length}`));
  socket.on('error', () => process.exit(1));
} else if (mode === 'tcp' || mode === 'udp') {
  const [ip, port, ms] = [rest[0], Number(rest[1]), Number(rest[2])];
  setTimeout(() => process.exit(1), ms);
  if (mode === 'tcp') {
    net.connect(port, ip, () => process.exit(0)).on('error', () => process.exit(1));
  } else {
    const udp = dgram.createSocket('udp4');
    udp.on('message', () => process.exit(0));
    udp.send('probe', port, ip);
  }
} else {
  console.error('usage: access-probe.mjs serve PORT... | tcp|udp IP PORT MS | hold IP PORT');
  process.exit(2);
}
