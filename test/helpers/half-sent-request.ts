import { connect, type Socket } from 'node:net';

/**
 * A client that sends the headers of a POST and half its body, then nothing more: what holds a
 * connection open when the server has no request timeout. `closed` resolves with what the
 * server sent once the connection ends.
 */
export async function sendHalfRequest(url: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.write(
    `POST /subscribe HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nemail=slow%40exam`,
  );
  return { socket, closed };
}
