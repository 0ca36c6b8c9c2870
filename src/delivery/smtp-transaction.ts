/**
 * One SMTP mail transaction written by hand on a connection nodemailer
 * opened (greeting, EHLO, STARTTLS, AUTH). nodemailer's own `send` made
 * five socket writes and three round trips per message, through a stream
 * of streams; with PIPELINING (RFC 2920) this is two writes: MAIL FROM,
 * RCPT TO and DATA together, then the message and its end together.
 * Replies are read by nodemailer's parser, through its queue of reply
 * handlers: one handler per command, in the order the commands went.
 */

/** What is used of nodemailer's SMTPConnection beyond its typings: its socket, its reply handlers and the server's extensions. */
export interface OpenSmtpConnection {
  readonly _socket: { write(data: Buffer | string): boolean };
  _responseActions: Array<(reply: string) => void>;
  readonly _supportedExtensions: readonly string[];
}

/** A refusal, shaped as nodemailer's are (`responseCode`, `command`), so a 5xx to RCPT TO or DATA is final. Its text holds no address. */
export class SmtpRefusal extends Error {
  readonly code: string;
  readonly responseCode: number;

  constructor(
    readonly command: 'MAIL FROM' | 'RCPT TO' | 'DATA',
    reply: string,
  ) {
    const code = replyCode(reply);
    super(`the SMTP server refused ${command} (${code || 'no code'})`);
    this.name = 'SmtpRefusal';
    this.code = command === 'DATA' ? 'EMESSAGE' : 'EENVELOPE';
    this.responseCode = code;
  }
}

/** The reply's three-digit code, or 0 for a reply that does not start with one. */
function replyCode(reply: string): number {
  return /^[1-5]\d\d(?:[ -]|$)/.test(reply) ? Number(reply.slice(0, 3)) : 0;
}

const DOT = Buffer.from('.');
const LINE_START_DOT = Buffer.from('\n.');
const END = Buffer.from('.\r\n');
const LINE_END_AND_END = Buffer.from('\r\n.\r\n');

/**
 * The message as DATA sends it: every line that starts with a dot gets one
 * more (RFC 5321 §4.5.2), and the end of data follows its last line.
 * `message` has CRLF line ends (it is composed or signed here).
 */
export function dataOf(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  if (message[0] === DOT[0]) parts.push(DOT);
  let from = 0;
  for (let at = message.indexOf(LINE_START_DOT); at !== -1; at = message.indexOf(LINE_START_DOT, at + 2)) {
    parts.push(message.subarray(from, at + 1), DOT);
    from = at + 1;
  }
  parts.push(message.subarray(from));
  const endsWithLine = message.length >= 2 && message[message.length - 2] === 0x0d && message[message.length - 1] === 0x0a;
  parts.push(endsWithLine ? END : LINE_END_AND_END);
  return Buffer.concat(parts);
}

/**
 * Sends `message` from `from` to `to` (plain ASCII addresses, checked by
 * the caller) as one transaction. It rejects with an {@link SmtpRefusal}
 * at the first command the server refuses; the caller then drops the
 * connection, so no reply of a pipelined command is left to be misread.
 * It never settles if the connection is lost: the caller races it with that.
 */
export function sendTransaction(connection: OpenSmtpConnection, from: string, to: string, message: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const replies = connection._responseActions;
    const write = (data: Buffer | string) => connection._socket.write(data);
    let refused: SmtpRefusal | undefined;
    // Only a 2xx accepts (RFC 5321 §4.2.1): a 1xx or a reply without a code
    // is no "sent", and fails the send as a temporary refusal (retried).
    const check = (command: SmtpRefusal['command'], reply: string) => {
      const code = replyCode(reply);
      if (code < 200 || code >= 300) refused ??= new SmtpRefusal(command, reply);
      return refused === undefined;
    };
    const onMessageEnd = (reply: string) => (check('DATA', reply) ? resolve() : reject(refused));
    const onData = (reply: string) => {
      // A DATA accepted after a refused recipient still fails: the caller closes the connection before any byte of the message.
      if (refused || replyCode(reply) !== 354) return reject(refused ?? new SmtpRefusal('DATA', reply));
      replies.push(onMessageEnd);
      write(dataOf(message));
    };
    const commands = { mail: `MAIL FROM:<${from}>\r\n`, rcpt: `RCPT TO:<${to}>\r\n`, data: 'DATA\r\n' };
    if (connection._supportedExtensions.includes('PIPELINING')) {
      replies.push((reply) => check('MAIL FROM', reply), (reply) => check('RCPT TO', reply), onData);
      write(commands.mail + commands.rcpt + commands.data);
      return;
    }
    // Without PIPELINING, each command waits for the reply to the one before.
    replies.push((reply) => {
      if (!check('MAIL FROM', reply)) return reject(refused);
      replies.push((rcptReply) => {
        if (!check('RCPT TO', rcptReply)) return reject(refused);
        replies.push(onData);
        write(commands.data);
      });
      write(commands.rcpt);
    });
    write(commands.mail);
  });
}
