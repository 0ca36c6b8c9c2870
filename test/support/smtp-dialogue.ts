import type { Socket } from 'node:net';

/** What a test SMTP server does with each step of a client's dialogue; `'stop reading'` stops reading the socket for good. */
export interface SmtpDialogue {
  /** A command line other than DATA, without its CRLF. */
  command(line: string): void | 'stop reading';
  /** DATA, before the 354 that is otherwise sent for it: `'stop reading'` leaves it unanswered. */
  data?(): void | 'stop reading';
  /** A message whose DATA ended with "."; the server answers it (or not). */
  message(): void | 'stop reading';
}

/**
 * Reads an SMTP client's commands off `socket`, as they come in chunks of any
 * size, and the message after DATA, which it answers 354 itself unless
 * `data` says otherwise.
 */
export function readSmtpDialogue(socket: Socket, dialogue: SmtpDialogue): void {
  let buffer = '';
  let inData = false;
  let stopped = false;
  socket.on('data', (chunk: Buffer) => {
    if (stopped) return;
    buffer += chunk.toString('latin1');
    for (;;) {
      if (inData) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        buffer = buffer.slice(end + 5);
        inData = false;
        if (dialogue.message() === 'stop reading') return void (stopped = true);
        continue;
      }
      const lineEnd = buffer.indexOf('\r\n');
      if (lineEnd < 0) return;
      const line = buffer.slice(0, lineEnd);
      buffer = buffer.slice(lineEnd + 2);
      if (line.slice(0, 4).toUpperCase() === 'DATA') {
        if (dialogue.data?.() === 'stop reading') return void (stopped = true);
        socket.write('354 go ahead\r\n');
        inData = true;
        // The message may begin in the same chunk as DATA: look again from its line's end.
        buffer = '\r\n' + buffer;
      } else if (dialogue.command(line) === 'stop reading') return void (stopped = true);
    }
  });
}
