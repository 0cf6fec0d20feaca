/**
 * The gateway's checks before a call reaches IoT Platform: a well-formed signature of either kind the service
 * accepts (an ACS3-HMAC-SHA256 Authorization header, or the RPC way: HMAC-SHA1 `Signature` with its
 * `SignatureMethod`, `SignatureVersion`, `SignatureNonce`, `AccessKeyId` and `Timestamp` among the parameters), a
 * known AccessKey (with its STS token when it has one), a date within the accepted skew, a signature over what was
 * actually received, and a signature nonce not seen before. A nonce is remembered
 * for at least twice the accepted skew: a request dated at the edge of the skew stays acceptable that long, so a
 * shorter memory would let it be replayed.
 */
import * as errors from "./errors";
import {
  RPC_SIGNATURE_METHOD,
  RPC_SIGNATURE_VERSION,
  SIGNATURE_ALGORITHM,
  canonicalRequest,
  parseAuthorization,
  rpcSignString,
  rpcStringToSign,
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

/** How a call was signed: the V3 Authorization header, or the RPC signature in the parameters. */
export type SignatureKind = typeof SIGNATURE_ALGORITHM | typeof RPC_SIGNATURE_METHOD;

/** Who made an authenticated call. */
export interface Principal {
  /** The AccessKey ID that signed the call. */
  readonly accessKeyId: string;
  /** The owning account, for quotas. */
  readonly accountId: string;
  /** How the call was signed. */
  readonly signature: SignatureKind;
}

/** The parameters an RPC-signed call must carry besides its own (`SecurityToken` only with an STS key). */
const RPC_SIGNATURE_PARAMS = [
  "Signature",
  "SignatureMethod",
  "SignatureVersion",
  "SignatureNonce",
  "AccessKeyId",
  "Timestamp",
] as const;

/** Whether a call carries no Authorization header but RPC signature parameters: it is checked the RPC way. */
export function isRpcSigned(call: Pick<IncomingCall, "headers" | "params">): boolean {
  return (
    call.headers["authorization"] === undefined &&
    (call.params["Signature"] !== undefined || call.params["SignatureMethod"] !== undefined)
  );
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
  /** The RPC parameters: the query, and the fields of a form-encoded body. */
  readonly params: Readonly<Record<string, string>>;
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

  /** Verifies a call signed either way; throws the gateway's GatewayError for the first check that fails. */
  verify(call: IncomingCall, now: number): Principal {
    return isRpcSigned(call) ? this.verifyRpc(call, now) : this.verifyAcs3(call, now);
  }

  private verifyAcs3(call: IncomingCall, now: number): Principal {
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
    const key = this.knownKey(auth.accessKeyId, call.headers["x-acs-security-token"]);
    this.checkDate(call.headers["x-acs-date"], now);

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
    this.useNonce(key.accessKeyId, call.headers["x-acs-signature-nonce"] ?? "", now);
    return principal(key, SIGNATURE_ALGORITHM);
  }

  /**
   * The RPC signature: every parameter but `Signature` (query and form body) is signed, so the parameters the
   * operation reads are exactly those the signature covers; headers are not signed.
   */
  private verifyRpc(call: IncomingCall, now: number): Principal {
    const p = call.params;
    if (RPC_SIGNATURE_PARAMS.some((name) => !p[name])) throw errors.gateway.incompleteSignature();
    if (p["SignatureMethod"] !== RPC_SIGNATURE_METHOD || p["SignatureVersion"] !== RPC_SIGNATURE_VERSION) {
      throw errors.gateway.incompleteSignature();
    }
    const key = this.knownKey(p["AccessKeyId"] ?? "", p["SecurityToken"]);
    this.checkDate(p["Timestamp"], now);
    const toSign = rpcStringToSign(call.method, p);
    if (!signaturesEqual(rpcSignString(key.accessKeySecret, toSign), p["Signature"] ?? "")) {
      throw errors.rpcSignatureDoesNotMatch(toSign);
    }
    this.useNonce(key.accessKeyId, p["SignatureNonce"] ?? "", now);
    return principal(key, RPC_SIGNATURE_METHOD);
  }

  /** The key of this AccessKey ID, with its STS token checked. */
  private knownKey(accessKeyId: string, securityToken: string | undefined): CredentialSpec {
    const key = this.keys.get(accessKeyId);
    if (!key) throw errors.gateway.invalidAccessKeyIdNotFound();
    if (key.securityToken !== undefined) {
      if (!securityToken) throw errors.gateway.missingSecurityToken();
      if (securityToken !== key.securityToken) throw errors.gateway.invalidSecurityTokenMismatch();
    }
    return key;
  }

  /** `x-acs-date` or `Timestamp`: `yyyy-MM-ddTHH:mm:ssZ`, within the accepted skew. */
  private checkDate(date: string | undefined, now: number): void {
    if (!date || !DATE_FORMAT.test(date) || Number.isNaN(Date.parse(date)))
      throw errors.gateway.invalidTimeStampFormat();
    if (Math.abs(now - Date.parse(date)) > this.clockSkewMs) throw errors.gateway.invalidTimeStampExpired();
  }

  /** Remembers a nonce; called only once the signature is good, so forged requests cannot burn nonces. */
  private useNonce(accessKeyId: string, nonce: string, now: number): void {
    this.forgetOldNonces(now);
    const nonceKey = `${accessKeyId}\u0000${nonce}`;
    if (this.nonces.has(nonceKey)) throw errors.gateway.signatureNonceUsed();
    this.nonces.set(nonceKey, now + this.nonceTtlMs);
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

function principal(key: CredentialSpec, signature: SignatureKind): Principal {
  return { accessKeyId: key.accessKeyId, accountId: key.accountId ?? DEFAULT_ACCOUNT_ID, signature };
}
