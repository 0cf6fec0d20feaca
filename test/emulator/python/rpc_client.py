"""Calls the emulator with Alibaba's Python SDK (aliyun-python-sdk-core, CommonRequest, RPC style).

Usage: rpc_client.py HOST:PORT ACCESS_KEY_ID ACCESS_KEY_SECRET
Prints one JSON line per call: the answer, or the ServerException's status, Code and RequestId.
"""
import json
import sys

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest


def call(client, endpoint, method, query, body):
    request = CommonRequest(domain=endpoint, version="2018-01-20", action_name="ResetThing")
    request.set_protocol_type("http")
    request.set_method(method)
    for name, value in query.items():
        request.add_query_param(name, value)
    for name, value in body.items():
        request.add_body_params(name, value)
    try:
        print(json.dumps({"answer": json.loads(client.do_action_with_exception(request))}), flush=True)
    except ServerException as err:
        print(
            json.dumps({"status": err.get_http_status(), "code": err.get_error_code(), "requestId": err.get_request_id()}),
            flush=True,
        )


def main():
    endpoint, key_id, secret = sys.argv[1:4]
    good = AcsClient(key_id, secret, "cn-shanghai", auto_retry=False)
    call(good, endpoint, "GET", {"ProductKey": "a1DemoProduct", "DeviceName": "sensor-002"}, {})
    call(good, endpoint, "POST", {"ProductKey": "a1DemoProduct"}, {"DeviceName": "sensor-003"})
    wrong = AcsClient(key_id, secret + "x", "cn-shanghai", auto_retry=False)
    call(wrong, endpoint, "GET", {"ProductKey": "a1DemoProduct", "DeviceName": "sensor-004"}, {})
    unknown = AcsClient("LTAIUnknownKey", secret, "cn-shanghai", auto_retry=False)
    call(unknown, endpoint, "GET", {"ProductKey": "a1DemoProduct", "DeviceName": "sensor-004"}, {})


main()
