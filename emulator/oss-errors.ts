/**
 * The OSS errors the emulator answers, each with the real service's HTTP status, Code and Message: an XML body
 * `<Error><Code/><Message/><RequestId/><HostId/>…</Error>` and the `x-oss-request-id` header, which is what
 * `ali-oss` reads into `err.code`, `err.status` and `err.requestId`. Wording from the OSS error-code reference
 * (https://www.alibabacloud.com/help/en/oss/support/oss-error-codes) and the service's answers.
 */

/** Every error the OSS side answers: status, Code, Message. */
export const OSS_ERRORS = {
  /** A request with no (or no OSS V1) Authorization header on a private bucket. */
  accessDenied: {
    status: 403,
    code: "AccessDenied",
    message: "You have no right to access this object because of bucket acl.",
  },
  /** A signed request whose `x-oss-date` (or `Date`) is missing or not an HTTP date. */
  invalidDate: { status: 403, code: "AccessDenied", message: "OSS authentication requires a valid Date." },
  /** An AccessKey ID the emulator does not know. */
  invalidAccessKeyId: {
    status: 403,
    code: "InvalidAccessKeyId",
    message: "The OSS Access Key Id you provided does not exist in our records.",
  },
  /** An STS key whose `x-oss-security-token` is missing or is not its token. */
  invalidSecurityToken: {
    status: 403,
    code: "InvalidSecurityToken",
    message: "The security token you provided is invalid.",
  },
  /** An STS token the test expired (`expireSecurityToken`). */
  securityTokenExpired: {
    status: 403,
    code: "SecurityTokenExpired",
    message: "The security token you provided has expired.",
  },
  /** The signature computed with the key's secret is not the one sent. */
  signatureDoesNotMatch: {
    status: 403,
    code: "SignatureDoesNotMatch",
    message:
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  },
  /** The request's date is more than the accepted skew (15 minutes) from the emulator's clock. */
  requestTimeTooSkewed: {
    status: 403,
    code: "RequestTimeTooSkewed",
    message: "The difference between the request time and the current time is too large.",
  },
  /** A bucket no test created. */
  noSuchBucket: { status: 404, code: "NoSuchBucket", message: "The specified bucket does not exist." },
  /** GetObject of a key that is not there. */
  noSuchKey: { status: 404, code: "NoSuchKey", message: "The specified key does not exist." },
  /** A create-only PutObject (`x-oss-forbid-overwrite: true`) of a key that exists, in a bucket never versioned. */
  fileAlreadyExists: {
    status: 409,
    code: "FileAlreadyExists",
    message: "The object you specified already exists and can not be overwritten.",
  },
  /** A `Content-MD5` that is not the MD5 of the body received. */
  invalidDigest: { status: 400, code: "InvalidDigest", message: "The Content-MD5 you specified is not valid." },
  /** A method or sub-resource the emulator does not implement. */
  notImplemented: {
    status: 501,
    code: "NotImplemented",
    message: "A header you provided implies functionality that is not implemented.",
  },
  /** The `serverError` fault. */
  internalError: { status: 500, code: "InternalError", message: "We encountered an internal error. Please try again." },
} as const;

/** The name of one OSS error. */
export type OssErrorName = keyof typeof OSS_ERRORS;

/** Escapes text for an XML element. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The XML body of an error, with extra elements (e.g. `BucketName`, `StringToSign`) after the fixed ones. */
export function errorXml(
  name: OssErrorName,
  requestId: string,
  hostId: string,
  extra: Record<string, string> = {},
): string {
  const e = OSS_ERRORS[name];
  const fields = { Code: e.code, Message: e.message, RequestId: requestId, HostId: hostId, ...extra };
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n` +
    Object.entries(fields)
      .map(([k, v]) => `  <${k}>${xmlEscape(v)}</${k}>\n`)
      .join("") +
    `</Error>\n`
  );
}
