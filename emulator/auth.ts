/**
 * The gateway's checks before a call reaches IoT Platform: a well-formed ACS3-HMAC-SHA256 Authorization,
 * a known AccessKey (with its STS token when it has one), an `x-acs-date` within the accepted skew, a
 * signature over the payload actually received, and a signature nonce not seen before. A nonce is remembered
 * for at least twice the accepted skew: a request dated at the edge of the skew stays acceptable that long, so a
 * shorter memory would let it be replayed.
 */
import * as errors from "./errors";
import {
  canonicalRequest,
  parseAuthorization,
  sha256Hex,
  signString,
  signaturesEqual,
  stringToSign,
} from "./signature";

/** An AccessKey pair the emulator accepts. */
export interface CredentialSpec {
  /** The AccessKey ID. */
  accessKeyId: string;
  /** The AccessKey secret. */
  accessKeySecret: string;
  /** For STS credentials: the security token that must come in `x-acs-security-token`. */
  securityToken?: string;
  /** The account that owns the key, which quotas are counted against; default: one account for all keys. */
  accountId?: string;
}

/** The account every key belongs to unless it names another: RAM users of one account share its quotas. */
export const DEFAULT_ACCOUNT_ID = "1234567890123456";

/** Who made an authenticated call. */
export interface Principal {
  /** The AccessKey ID that signed the call. */
  readonly accessKeyId: string;
  /** The owning account, for quotas. */
  readonly accountId: string;
}

/** What the verifier needs from an HTTP request. */
export interface IncomingCall {
  /** The HTTP method. */
  readonly method: string;
  /** The path, without the query. */
  readonly pathname: string;
  /** The decoded query parameters. */
  readonly query: Readonly<Record<string, string>>;
  /** The request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body. */
  readonly body: Buffer;
}

const DATE_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Checks signatures and remembers nonces. */
export class Authenticator {
  private readonly keys = new Map<string, CredentialSpec>();
  private readonly nonces = new Map<string, number>();

  /**
   * @param credentials the accepted keys.
   * @param clockSkewMs the largest accepted distance between `x-acs-date` and the server clock.
   * @param nonceTtlMs how long a nonce is remembered; at least `2 × clockSkewMs` (checked by startEmulator).
   */
  constructor(
    credentials: readonly CredentialSpec[],
    private readonly clockSkewMs: number,
    private readonly nonceTtlMs: number,
  ) {
    for (const c of credentials) this.keys.set(c.accessKeyId, c);
  }

  /** Verifies a call; throws the gateway's GatewayError for the first check that fails. */
  verify(call: IncomingCall, now: number): Principal {
    const auth = parseAuthorization(call.headers["authorization"]);
    if (!auth) throw errors.gateway.incompleteSignature();
    // The gateway insists that host and every x-acs-* header be covered by the signature.
    const signed = new Set(auth.signedHeaders);
    if (!signed.has("host")) throw errors.gateway.incompleteSignature();
    for (const name of Object.keys(call.headers)) {
      if (name.startsWith("x-acs-") && !signed.has(name)) throw errors.gateway.incompleteSignature();
    }
    for (const required of ["x-acs-signature-nonce", "x-acs-content-sha256"]) {
      if (!call.headers[required]) throw errors.gateway.incompleteSignature();
    }

    const key = this.keys.get(auth.accessKeyId);
    if (!key) throw errors.gateway.invalidAccessKeyIdNotFound();
    if (key.securityToken !== undefined) {
      const token = call.headers["x-acs-security-token"];
      if (!token) throw errors.gateway.missingSecurityToken();
      if (token !== key.securityToken) throw errors.gateway.invalidSecurityTokenMismatch();
    }

    const date = call.headers["x-acs-date"];
    if (!date || !DATE_FORMAT.test(date) || Number.isNaN(Date.parse(date)))
      throw errors.gateway.invalidTimeStampFormat();
    if (Math.abs(now - Date.parse(date)) > this.clockSkewMs) throw errors.gateway.invalidTimeStampExpired();

    // The server hashes the body it received: a client whose x-acs-content-sha256 does not describe the
    // body signed something else, so the signature cannot match.
    const canonical = canonicalRequest({
      method: call.method,
      pathname: call.pathname,
      query: call.query,
      headers: call.headers,
      signedHeaders: auth.signedHeaders,
      hashedPayload: sha256Hex(call.body),
    });
    const toSign = stringToSign(canonical);
    const expected = signString(key.accessKeySecret, toSign);
    if (
      call.headers["x-acs-content-sha256"] !== sha256Hex(call.body) ||
      !signaturesEqual(expected, auth.signature.toLowerCase())
    ) {
      throw errors.signatureDoesNotMatch(toSign);
    }

    // The nonce is remembered only once the signature is good, so forged requests cannot burn nonces.
    this.forgetOldNonces(now);
    const nonceKey = `${auth.accessKeyId}\u0000${call.headers["x-acs-signature-nonce"]}`;
    if (this.nonces.has(nonceKey)) throw errors.gateway.signatureNonceUsed();
    this.nonces.set(nonceKey, now + this.nonceTtlMs);

    return { accessKeyId: key.accessKeyId, accountId: key.accountId ?? DEFAULT_ACCOUNT_ID };
  }

  private forgetOldNonces(now: number): void {
    // Insertion order is expiry order (the TTL is constant), so expired entries sit at the front.
    // A nonce is kept through its expiry inclusive, as a date is accepted at exactly the skew.
    for (const [nonce, expiry] of this.nonces) {
      if (expiry >= now) break;
      this.nonces.delete(nonce);
    }
  }
}
