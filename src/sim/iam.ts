/**
 * The lab's IAM: the access keys it issued and what they belong to. Each instance has an instance profile
 * whose role's temporary credentials IMDS serves (`meta-data/iam/security-credentials/<role>`), valid for
 * 6 hours and replaced 15 minutes before they expire, as EC2 rotates them ("at least five minutes before").
 * A replaced key stays valid until its own expiry. Static keys (an IAM user's, no session token) can be
 * added for callers outside an instance. The EC2 server verifies SigV4 signatures against these keys.
 * @module
 */

/** The instance profile and role every lab instance carries. */
export const LAB_ROLE = "lab-node-role";
const PROFILE = "lab-node-profile";

/** How long issued temporary credentials are valid. */
export const CREDENTIALS_TTL_MS = 6 * 3600_000;
/** How long before expiry IMDS starts handing out the next set. */
export const ROTATE_BEFORE_MS = 15 * 60_000;

/** An access key the lab knows. */
export interface IssuedKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** The session token temporary credentials carry (none for a static key). */
  sessionToken?: string;
  /** Epoch ms after which the key is refused (none for a static key). */
  expiresAt?: number;
  issuedAt: number;
  /** The instance whose role the key belongs to. */
  instanceId?: string;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function randomText(n: number, alphabet: string): string {
  return [...crypto.getRandomValues(new Uint8Array(n))].map((b) => alphabet[b % alphabet.length]).join("");
}

function base64(bytes: number): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes))));
}

/** EC2's timestamp form in IMDS documents: `2026-11-25T12:00:00Z` (no milliseconds). */
export function imdsTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Issues and looks up the lab's access keys. */
export class LabIam {
  readonly #keys = new Map<string, IssuedKey>();
  readonly #current = new Map<string, IssuedKey>();
  readonly #accountId: string;
  readonly #now: () => number;

  constructor(o: { accountId: string; now?: () => number }) {
    this.#accountId = o.accountId;
    this.#now = o.now ?? Date.now;
  }

  /** The role names an instance's profile holds (IMDS `iam/security-credentials/`). */
  roles(_instanceId: string): string[] {
    return [LAB_ROLE];
  }

  /** IMDS `iam/info`. */
  info(instanceId: string): Record<string, string> {
    return {
      Code: "Success",
      LastUpdated: imdsTime(this.credentials(instanceId).issuedAt),
      InstanceProfileArn: `arn:aws:iam::${this.#accountId}:instance-profile/${PROFILE}`,
      InstanceProfileId: `AIPA${this.#accountId}${instanceId.slice(-4).toUpperCase()}`,
    };
  }

  /** The instance role's current temporary credentials, issuing the next set when these are near expiry. */
  credentials(instanceId: string): IssuedKey {
    const now = this.#now();
    const cur = this.#current.get(instanceId);
    if (cur && cur.expiresAt! - ROTATE_BEFORE_MS > now) return cur;
    const next = this.#issue({
      prefix: "ASIA",
      sessionToken: base64(96),
      expiresAt: now + CREDENTIALS_TTL_MS,
      instanceId,
    });
    this.#current.set(instanceId, next);
    return next;
  }

  /** Adds a static key pair (an IAM user's: no session token, no expiry) and returns it. */
  addStaticKey(): IssuedKey {
    return this.#issue({ prefix: "AKIA" });
  }

  /** The key with this id, when the lab issued it (expired keys included; the caller checks). */
  lookup(accessKeyId: string): IssuedKey | undefined {
    const k = this.#keys.get(accessKeyId);
    if (k?.expiresAt !== undefined && k.expiresAt + CREDENTIALS_TTL_MS < this.#now()) {
      this.#keys.delete(accessKeyId); // long gone: forget it
      return undefined;
    }
    return k;
  }

  /** Epoch ms now, on the lab's clock. */
  now(): number {
    return this.#now();
  }

  #issue(o: { prefix: string; sessionToken?: string; expiresAt?: number; instanceId?: string }): IssuedKey {
    const key: IssuedKey = {
      accessKeyId: o.prefix + randomText(16, ALNUM),
      secretAccessKey: base64(30),
      sessionToken: o.sessionToken,
      expiresAt: o.expiresAt,
      issuedAt: this.#now(),
      instanceId: o.instanceId,
    };
    this.#keys.set(key.accessKeyId, key);
    return key;
  }
}

const HOST_CREDENTIALS =
  /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|DEFAULT_PROFILE|SHARED_CREDENTIALS_FILE|CONFIG_FILE|WEB_IDENTITY_TOKEN_FILE|ROLE_ARN|ROLE_SESSION_NAME|CONTAINER_CREDENTIALS_\w+|CONTAINER_AUTHORIZATION_TOKEN\w*)$/;

/**
 * `env` without the host's AWS credential settings: a lab node's agents find their credentials as on an
 * instance, through the SDK's default chain ending at IMDS (the instance role).
 */
export function withoutHostCredentials(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !HOST_CREDENTIALS.test(k)));
}
