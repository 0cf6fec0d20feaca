/**
 * Every error the emulator answers, each copying the real service's HTTP status, Code and wording (the Azurite
 * StorageErrorFactory pattern): each family is one table of facts, turned into factories in one place.
 *
 * Two families, as at Alibaba Cloud:
 * - gateway errors (signature, throttling, 5xx): a 4xx/5xx status and a body
 *   `{ RequestId, HostId, Code, Message, Recommend }`; the SDK throws for them;
 * - IoT business errors: HTTP 200 with `{ RequestId, Success: false, Code, ErrorMessage }`; the SDK
 *   does not throw, the caller must look at `Success`.
 *
 * Sources for codes, statuses and wording:
 * - Alibaba Cloud OpenAPI public error codes (error-center "Public" product, the CDN/KMS "common error
 *   codes" tables): InvalidAccessKeyId.NotFound 404 "Specified access key is not found.",
 *   SignatureDoesNotMatch 400, IncompleteSignature 400, InvalidTimeStamp.Expired 400,
 *   SignatureNonceUsed 400, Throttling / Throttling.User 400, InternalError 500, ServiceUnavailable 503.
 * - The V3 signature failure message, "Specified signature does not match our calculation. server
 *   StringToSign is [...]", as reported by users of ACS3-HMAC-SHA256 (developer.aliyun.com/ask/678646); the RPC
 *   one, "Specified signature is not matched with our calculation. server string to sign is:...", as reported by
 *   users of HMAC-SHA1 clients (github.com/NewFuture/DDNS/issues/57).
 * - IoT Platform "Error codes" (help.aliyun.com/document_detail/87387): iot.system.*, iot.common.*,
 *   iot.prod.*, iot.device.* with their descriptions.
 */

/** A gateway (POP) error: the SDK throws it with `statusCode`, `code` and the message. */
export class GatewayError extends Error {
  /** The HTTP status the gateway answers with. */
  readonly status: number;
  /** The Alibaba Cloud error Code, e.g. `Throttling.User`. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "GatewayError";
    this.status = status;
    this.code = code;
  }
}

/** An IoT Platform business error: HTTP 200, `Success: false`, `Code`, `ErrorMessage`. */
export class BusinessError extends Error {
  /** The IoT Platform error Code, e.g. `iot.device.NotExistedDevice`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "BusinessError";
    this.code = code;
  }
}

// ---- Gateway errors (4xx/5xx, JSON body) ------------------------------------------------------------

/**
 * Every fixed gateway error: its HTTP status, Code and Message, each with the doc of when it is answered; `gateway`
 * turns each into a factory.
 */
export const GATEWAY_ERRORS = {
  /** The `Authorization` header is missing, not ACS3-HMAC-SHA256, or lacks Credential/SignedHeaders/Signature. */
  incompleteSignature: {
    status: 400,
    code: "IncompleteSignature",
    message: "The request signature does not conform to Aliyun standards.",
  },
  /** The AccessKey ID in `Credential=` is not one the emulator knows. */
  invalidAccessKeyIdNotFound: {
    status: 404,
    code: "InvalidAccessKeyId.NotFound",
    message: "Specified access key is not found.",
  },
  /** `x-acs-date` is missing or not `yyyy-MM-ddTHH:mm:ssZ`. */
  invalidTimeStampFormat: {
    status: 400,
    code: "InvalidTimeStamp.Format",
    message: "Specified time stamp or date value is not well formatted.",
  },
  /** `x-acs-date` is further from the server clock than the accepted skew (15 minutes at Alibaba Cloud). */
  invalidTimeStampExpired: {
    status: 400,
    code: "InvalidTimeStamp.Expired",
    message: "Specified time stamp or date value is expired.",
  },
  /** `x-acs-signature-nonce` was already used within the nonce memory (twice the accepted skew, 30 minutes). */
  signatureNonceUsed: {
    status: 400,
    code: "SignatureNonceUsed",
    message: "Specified signature nonce was used already.",
  },
  /** An STS AccessKey was used without `x-acs-security-token`. */
  missingSecurityToken: {
    status: 400,
    code: "MissingSecurityToken",
    message: "SecurityToken is mandatory for this action.",
  },
  /** `x-acs-security-token` is not the token issued with this STS AccessKey. */
  invalidSecurityTokenMismatch: {
    status: 400,
    code: "InvalidSecurityToken.MismatchWithAccessKey",
    message: "Specified SecurityToken mismatch with the AccessKey.",
  },
  /** `x-acs-action` names no API of IoT Platform 2018-01-20 that the emulator serves. */
  invalidActionNotFound: {
    status: 404,
    code: "InvalidAction.NotFound",
    message: "Specified api is not found, please check your url and method.",
  },
  /** `x-acs-version` is not `2018-01-20`. */
  invalidVersion: {
    status: 400,
    code: "InvalidVersion",
    message: "Specified parameter Version is not valid.",
  },
  /** The HTTP method is neither GET nor POST (RPC-style APIs accept only these). */
  unsupportedHttpMethod: {
    status: 400,
    code: "UnsupportedHTTPMethod",
    message: "Specified http method is not supported.",
  },
  /** The account exceeded the per-API QPS quota (the quota is shared by every RAM user of the account). */
  throttlingUser: {
    status: 400,
    code: "Throttling.User",
    message: "Request was denied due to user flow control.",
  },
  /** The service throttled the request regardless of the account's own quota (an injected fault). */
  throttling: {
    status: 400,
    code: "Throttling",
    message: "Request was denied due to request throttling.",
  },
  /** A temporary failure of the server (an injected fault). */
  serviceUnavailable: {
    status: 503,
    code: "ServiceUnavailable",
    message: "The request has failed due to a temporary failure of the server.",
  },
  /** An unknown server-side failure (an injected fault). */
  internalError: {
    status: 500,
    code: "InternalError",
    message: "The request processing has failed due to some unknown error, exception or failure.",
  },
} as const satisfies Record<string, { status: number; code: string; message: string }>;

/** A factory per entry of GATEWAY_ERRORS, e.g. `gateway.throttlingUser()`; each keeps its entry's doc. */
export const gateway = Object.fromEntries(
  Object.entries(GATEWAY_ERRORS).map(([name, { status, code, message }]) => [
    name,
    () => new GatewayError(status, code, message),
  ]),
) as { readonly [K in keyof typeof GATEWAY_ERRORS]: () => GatewayError };

/** The signature (or the payload hash it covers) does not match; the message shows the server's string to sign, as the gateway does. */
export function signatureDoesNotMatch(serverStringToSign: string): GatewayError {
  return new GatewayError(
    400,
    "SignatureDoesNotMatch",
    `Specified signature does not match our calculation. server StringToSign is [${serverStringToSign}]`,
  );
}

/**
 * An RPC-signed (HMAC-SHA1) call whose signature does not match: the gateway's wording for that signature differs
 * from the V3 one and ends with `:` and its string to sign, which Alibaba's Python SDK compares with its own to
 * report a wrong secret as `InvalidAccessKeySecret` (aliyunsdkcore/client.py, `_get_server_exception`).
 */
export function rpcSignatureDoesNotMatch(serverStringToSign: string): GatewayError {
  return new GatewayError(
    400,
    "SignatureDoesNotMatch",
    `Specified signature is not matched with our calculation. server string to sign is:${serverStringToSign}`,
  );
}

/** The HTML page a load balancer in front of the service answers when the upstream is gone: not JSON. */
export const BAD_GATEWAY_HTML =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n";

// ---- IoT Platform business errors (HTTP 200, Success: false) --------------------------------------

/** The documented wording of the business Codes the emulator knows, for scripted failures given only a Code. */
export const BUSINESS_MESSAGES = {
  "iot.device.NotExistedDevice": "The specified device does not exist.",
  "iot.device.InvalidIoTId": "The device IotId is incorrect.",
  "iot.system.InstanceNotFound": "The specified instance ID does not exist.",
  "iot.common.InvalidFormattedParameter": "The parameter format is invalid.",
  "iot.prod.NotExistedProduct": "The specified product does not exist.",
  "iot.device.AlreadyExistedDeviceName": "The device name already exists.",
  "iot.system.IllegalRequest": "The request parameter is invalid.",
  "iot.system.SystemException": "A system exception occurred.",
  "iot.device.InactiveDevice": "The device is inactive.",
  "iot.device.RemoveTopoRelationFailed": "Failed to delete the topological relationship.",
  "iot.common.InvalidPageParams": "The page size or page number is invalid.",
  "iot.group.NotExistedGroup": "The group does not exist.",
  "iot.common.RamActionPermissionDeny": "You do not have the RAM permission to access the resource.",
  "iot.common.AuthActionPermissionDeny": "Authentication failed.",
} as const satisfies Record<string, string>;

/** A factory of the business error with this Code and its documented wording. */
function business(code: keyof typeof BUSINESS_MESSAGES): () => BusinessError {
  return () => new BusinessError(code, BUSINESS_MESSAGES[code]);
}

/** The device named by ProductKey + DeviceName does not exist in the addressed instance. */
export const notExistedDevice = business("iot.device.NotExistedDevice");

/** The IotId names no device in the addressed instance. */
export const invalidIotId = business("iot.device.InvalidIoTId");

/** `IotInstanceId` names no instance of the account. */
export const instanceNotFound = business("iot.system.InstanceNotFound");

/** A required parameter is missing or malformed, e.g. ProductKey without DeviceName. */
export const invalidFormattedParameter = business("iot.common.InvalidFormattedParameter");

/** The ProductKey names no product of the addressed instance. */
export const notExistedProduct = business("iot.prod.NotExistedProduct");

/** RegisterDevice with a DeviceName the product already has. */
export const alreadyExistedDeviceName = business("iot.device.AlreadyExistedDeviceName");

/** The request parameters are invalid for the operation, e.g. a JobId the instance never issued. */
export const illegalRequest = business("iot.system.IllegalRequest");

/** PageSize or CurrentPage out of range (IoT Platform error codes: "the page size or page number is invalid"). */
export const invalidPageParams = business("iot.common.InvalidPageParams");

/** `GroupId` names no device group of the addressed instance. */
export const notExistedGroup = business("iot.group.NotExistedGroup");

/** A system exception; the default wording for a scripted device failure without a known Code. */
export const systemException = business("iot.system.SystemException");
