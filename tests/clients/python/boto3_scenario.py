"""boto3/botocore against a lab node, as a Python node agent would: endpoints from AWS_ENDPOINT_URL_EC2 and
AWS_EC2_METADATA_SERVICE_ENDPOINT, region and credentials from botocore's defaults (the instance's IMDS,
through botocore's own IMDS fetchers). Prints one JSON report; tests/clients/boto3_test.ts checks it.
Modes: "scenario" and "throttle" (one call while the lab throttles every call)."""

import json
import sys

import boto3
import botocore
import botocore.config
import botocore.session
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryEventAdapter, ThrottlingErrorDetector
from botocore.utils import InstanceMetadataFetcher, InstanceMetadataRegionFetcher


def api_error(e):
    if e is None:
        return None
    return {
        "code": e.response["Error"]["Code"],
        "message": e.response["Error"].get("Message", ""),
        "httpStatus": e.response["ResponseMetadata"]["HTTPStatusCode"],
    }


def call_error(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return api_error(e)
    return None


def imds_config(session):
    # As botocore builds its own instance-metadata credential provider: endpoint from the session's config
    # (AWS_EC2_METADATA_SERVICE_ENDPOINT); IMDSv1 disabled, so every read proves a token was used.
    return {
        "ec2_metadata_service_endpoint": session.get_config_variable("ec2_metadata_service_endpoint"),
        "ec2_metadata_service_endpoint_mode": "ipv4",
        "ec2_metadata_v1_disabled": True,
    }


def imds_part(session):
    fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=3, config=imds_config(session))
    token = fetcher._fetch_metadata_token()

    def get(path):
        r = fetcher._get_request("latest/" + path, None, token)
        if r.status_code != 200:
            raise RuntimeError(f"IMDS {path}: HTTP {r.status_code}")
        return r.text.strip().split("\n")

    doc = json.loads("\n".join(get("dynamic/instance-identity/document")))
    macs = get("meta-data/network/interfaces/macs")
    mac = macs[0].rstrip("/")
    role = fetcher.retrieve_iam_role_credentials()
    return {
        "instanceId": doc["instanceId"],
        "identity": doc,
        "region": doc["region"],
        "macs": macs,
        "macsSlash": get("meta-data/network/interfaces/macs/"),
        "macKeys": get(f"meta-data/network/interfaces/macs/{mac}"),
        "macKeysSlash": get(f"meta-data/network/interfaces/macs/{mac}/"),
        "localIpv4s": get(f"meta-data/network/interfaces/macs/{mac}/local-ipv4s"),
        "instanceProfileArn": json.loads("\n".join(get("meta-data/iam/info")))["InstanceProfileArn"],
        "fetcherRole": role.get("role_name"),
        "fetcherAccessKeyId": role.get("access_key"),
    }


def credentials_part(session):
    c = session.get_credentials()
    frozen = c.get_frozen_credentials()
    expiry = getattr(c, "_expiry_time", None)
    return {
        "source": c.method,
        "accessKeyId": frozen.access_key,
        "sessionToken": bool(frozen.token),
        "canExpire": expiry is not None,
        "expires": expiry.strftime("%Y-%m-%dT%H:%M:%SZ") if expiry else None,
    }


def ec2_part(ec2, instance_id):
    inst = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    subnet = inst["SubnetId"]
    tags = [{"ResourceType": "network-interface", "Tags": [{"Key": "vpc-cni-client", "Value": "python"}]}]
    eni = ec2.create_network_interface(
        SubnetId=subnet, Description="boto3 scenario", SecondaryPrivateIpAddressCount=1, TagSpecifications=tags
    )["NetworkInterface"]
    eni_id = eni["NetworkInterfaceId"]
    att = ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=instance_id, DeviceIndex=1)
    assigned = ec2.assign_private_ip_addresses(NetworkInterfaceId=eni_id, SecondaryPrivateIpAddressCount=2)
    ids = [eni_id]
    for _ in range(6):
        ids.append(ec2.create_network_interface(SubnetId=subnet, TagSpecifications=tags)["NetworkInterface"]["NetworkInterfaceId"])
    pages, paged = 0, []
    paginator = ec2.get_paginator("describe_network_interfaces")
    for page in paginator.paginate(
        Filters=[{"Name": "tag:vpc-cni-client", "Values": ["python"]}], PaginationConfig={"PageSize": 5}
    ):
        pages += 1
        paged += [e["NetworkInterfaceId"] for e in page["NetworkInterfaces"]]
    attached = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])
    d = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    ec2.detach_network_interface(AttachmentId=att["AttachmentId"])
    ec2.get_waiter("network_interface_available").wait(
        NetworkInterfaceIds=[eni_id], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    for i in ids:
        ec2.delete_network_interface(NetworkInterfaceId=i)
    return {
        "subnetId": subnet,
        "eniId": eni_id,
        "mac": eni["MacAddress"],
        "attachmentId": att["AttachmentId"],
        "assigned": [a["PrivateIpAddress"] for a in assigned["AssignedPrivateIpAddresses"]],
        "describedIps": len(d["PrivateIpAddresses"]),
        "describedStatus": d["Status"],
        "describedDevice": d["Attachment"]["DeviceIndex"],
        "created": ids,
        "pages": pages,
        "paged": paged,
        "attachedToSelf": [e["NetworkInterfaceId"] for e in attached["NetworkInterfaces"]],
        "notFound": call_error(ec2.describe_network_interfaces, NetworkInterfaceIds=[eni_id]),
        "badFilter": call_error(ec2.describe_network_interfaces, Filters=[{"Name": "no-such-filter", "Values": ["x"]}]),
        "deletePrimary": call_error(
            ec2.delete_network_interface, NetworkInterfaceId=inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
        ),
    }


def throttle_part(ec2):
    """One call while every call is throttled: botocore's standard retryer retries it (3 attempts), and its
    own ThrottlingErrorDetector, fed each retry event, calls every failure throttling."""
    detector = ThrottlingErrorDetector(RetryEventAdapter())
    verdicts = []
    ec2.meta.events.register(
        "needs-retry.ec2.DescribeSubnets",
        lambda **kwargs: verdicts.append(detector.is_throttling_error(**kwargs)),
    )
    try:
        ec2.describe_subnets()
    except ClientError as e:
        return {
            "error": api_error(e),
            "isThrottle": len(verdicts) > 0 and all(verdicts),
            "retryable": e.response["ResponseMetadata"]["RetryAttempts"] > 0,
            "attempts": e.response["ResponseMetadata"]["RetryAttempts"] + 1,
            "maxAttempts": ec2.meta.config.retries["total_max_attempts"],
            "verdicts": verdicts,
        }
    raise RuntimeError("DescribeSubnets succeeded while the lab throttles every call")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "scenario"
    core = botocore.session.get_session()
    # botocore reads no region from IMDS by itself: a node agent asks botocore's IMDS region fetcher.
    region = InstanceMetadataRegionFetcher(timeout=5, num_attempts=3, config=imds_config(core)).retrieve_region()
    session = boto3.Session(botocore_session=core, region_name=region)
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=20)
    ec2 = session.client("ec2", config=config)
    report = {
        "client": "boto3",
        "versions": {"boto3": boto3.__version__, "botocore": botocore.__version__},
        "region": session.region_name,
    }
    if mode == "scenario":
        report["imds"] = imds_part(core)
        report["credentials"] = credentials_part(session)
        report["ec2"] = ec2_part(ec2, report["imds"]["instanceId"])
    elif mode == "throttle":
        report["throttle"] = throttle_part(ec2)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
