import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/** A logged-in device: what an access token stands for. */
export interface Device {
  readonly userId: string;
  readonly deviceId: string;
}

/**
 * The homeserver's own user table, in memory: users, their password hashes
 * and their access tokens. A real homeserver keeps these in its database;
 * nothing here is about 3PIDs.
 */
export class Users {
  private readonly passwords = new Map<string, { salt: Buffer; hash: Buffer }>();
  private readonly tokens = new Map<string, Device>();

  constructor(readonly serverName: string) {}

  /** `alice` or `@alice:example.org` → `@alice:example.org`. */
  userId(name: string): string {
    return name.startsWith('@') ? name : `@${name.toLowerCase()}:${this.serverName}`;
  }

  exists(userId: string): boolean {
    return this.passwords.has(userId);
  }

  create(userId: string, password: string): void {
    this.setPassword(userId, password);
  }

  setPassword(userId: string, password: string): void {
    const salt = randomBytes(16);
    this.passwords.set(userId, { salt, hash: scryptSync(password, salt, 32) });
  }

  checkPassword(userId: string, password: string): boolean {
    const stored = this.passwords.get(userId);
    return stored !== undefined && timingSafeEqual(stored.hash, scryptSync(password, stored.salt, 32));
  }

  /** A new device with an access token. */
  login(userId: string, deviceId = randomBytes(5).toString('hex').toUpperCase()) {
    const accessToken = `syt_${randomBytes(24).toString('base64url')}`;
    this.tokens.set(accessToken, { userId, deviceId });
    return { access_token: accessToken, device_id: deviceId };
  }

  device(accessToken: string | undefined): Device | undefined {
    return accessToken === undefined ? undefined : this.tokens.get(accessToken);
  }

  logout(accessToken: string): void {
    this.tokens.delete(accessToken);
  }

  /** Logs out every device of the user but the one holding `keep`. */
  logoutAll(userId: string, keep?: string): void {
    for (const [token, device] of this.tokens) {
      if (device.userId === userId && token !== keep) this.tokens.delete(token);
    }
  }
}
