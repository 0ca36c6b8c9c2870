import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readSmtpDialogue } from './smtp-dialogue';

export interface AuthEchoSmtp {
  port: number;
  close(): Promise<void>;
}

const base64 = (text: string) => Buffer.from(text, 'latin1').toString('base64');
const decoded = (text: string) => Buffer.from(text, 'base64').toString('latin1');

/**
 * An SMTP server that offers AUTH `method` (PLAIN or LOGIN) and refuses the
 * credentials with a 535 that echoes them in every form it can make of them:
 * each line the client sent (base64), what they decode to, the user and the
 * password each in base64 alone, and `authzid\0user\0pass` for authzids of
 * one, two and three bytes (so that the password falls at every place a
 * base64 group can put it).
 */
export async function startAuthEchoSmtp(method: 'PLAIN' | 'LOGIN'): Promise<AuthEchoSmtp> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.write('220 echo.test ESMTP\r\n');
    const refuse = (sent: string[], user: string, pass: string) => {
      const forms = [...sent, user, pass, base64(user), base64(pass), ...['a', 'ab', 'abc'].map((authzid) => base64(`${authzid}\0${user}\0${pass}`))];
      socket.write(`${forms.map((form) => `535-5.7.8 you sent ${form}\r\n`).join('')}535 5.7.8 authentication failed\r\n`);
    };
    // The lines of an AUTH LOGIN exchange under way: the user, then the password.
    let login: string[] | undefined;
    readSmtpDialogue(socket, {
      command(line) {
        if (login) {
          login.push(line);
          if (login.length === 1) socket.write('334 UGFzc3dvcmQ6\r\n');
          else {
            refuse(login, decoded(login[0]), decoded(login[1]));
            login = undefined;
          }
          return;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write(`250-echo.test\r\n250-AUTH ${method}\r\n250 8BITMIME\r\n`);
        else if (verb === 'AUTH' && method === 'LOGIN') {
          login = [];
          socket.write('334 VXNlcm5hbWU6\r\n');
        } else if (verb === 'AUTH') {
          const argument = line.split(' ')[2] ?? '';
          const [, user = '', pass = ''] = decoded(argument).split('\0');
          refuse([argument], user, pass);
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      },
      message: () => void socket.write('250 queued\r\n'),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
