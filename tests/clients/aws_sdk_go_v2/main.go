// Command aws_sdk_go_v2 drives the lab's IMDS and EC2 with aws-sdk-go-v2, exactly as a Go node agent would:
// endpoints from AWS_ENDPOINT_URL_EC2 and AWS_EC2_METADATA_SERVICE_ENDPOINT, region and credentials from the
// SDK's defaults (the instance's IMDS). It prints one JSON report of what the SDK saw; the Deno test
// (tests/clients/aws_sdk_go_v2_test.ts) checks it. Modes: "scenario" (IMDS, credentials, an ENI's life,
// errors) and "throttle" (one call while the lab throttles everything: the SDK's own retryer at work).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// countingClient counts the HTTP requests sent to the EC2 endpoint (retries included).
type countingClient struct {
	inner   *http.Client
	ec2Host string
	ec2     atomic.Int64
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host == c.ec2Host {
		c.ec2.Add(1)
	}
	return c.inner.Do(r)
}

// apiError is an error as smithy's APIError and the HTTP response show it.
type apiError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	Fault      string `json:"fault"`
	HTTPStatus int    `json:"httpStatus"`
}

func asAPIError(err error) *apiError {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return nil
	}
	out := &apiError{Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Fault: ae.ErrorFault().String()}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		out.HTTPStatus = re.HTTPStatusCode()
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		fail(err)
	}
	return v
}

func fail(err error) {
	json.NewEncoder(os.Stdout).Encode(map[string]any{"fatal": err.Error(), "apiError": asAPIError(err)})
	os.Exit(1)
}

func sdkVersions() map[string]string {
	out := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if strings.HasPrefix(d.Path, "github.com/aws/") {
				out[d.Path] = d.Version
			}
		}
	}
	return out
}

func main() {
	mode := "scenario"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ec2URL := os.Getenv("AWS_ENDPOINT_URL_EC2")
	counter := &countingClient{inner: &http.Client{Timeout: 20 * time.Second}, ec2Host: strings.TrimPrefix(ec2URL, "http://")}
	cfg := must(config.LoadDefaultConfig(ctx, config.WithEC2IMDSRegion(), config.WithHTTPClient(counter)))
	report := map[string]any{"client": "aws-sdk-go-v2", "versions": sdkVersions(), "region": cfg.Region}
	switch mode {
	case "scenario":
		report["imds"] = imdsPart(ctx, cfg)
		report["credentials"] = credentialsPart(ctx, cfg)
		report["ec2"] = ec2Part(ctx, ec2.NewFromConfig(cfg), report["imds"].(map[string]any)["instanceId"].(string))
	case "throttle":
		report["throttle"] = throttlePart(ctx, ec2.NewFromConfig(cfg), counter)
	default:
		fail(fmt.Errorf("unknown mode %q", mode))
	}
	json.NewEncoder(os.Stdout).Encode(report)
}

// imdsPart: IMDSv2 only (no v1 fallback), the identity document, and listings asked both ways.
func imdsPart(ctx context.Context, cfg aws.Config) map[string]any {
	md := imds.NewFromConfig(cfg, func(o *imds.Options) { o.EnableFallback = aws.FalseTernary })
	get := func(path string) []string {
		out := must(md.GetMetadata(ctx, &imds.GetMetadataInput{Path: path}))
		defer out.Content.Close()
		body := must(io.ReadAll(out.Content))
		return strings.Split(strings.TrimSpace(string(body)), "\n")
	}
	doc := must(md.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{}))
	macs := get("network/interfaces/macs")
	mac := strings.TrimSuffix(macs[0], "/")
	info := must(md.GetIAMInfo(ctx, &imds.GetIAMInfoInput{}))
	region := must(md.GetRegion(ctx, &imds.GetRegionInput{}))
	return map[string]any{
		"instanceId":         doc.InstanceID,
		"identity":           doc.InstanceIdentityDocument,
		"region":             region.Region,
		"macs":               macs,
		"macsSlash":          get("network/interfaces/macs/"),
		"macKeys":            get("network/interfaces/macs/" + mac),
		"macKeysSlash":       get("network/interfaces/macs/" + mac + "/"),
		"localIpv4s":         get("network/interfaces/macs/" + mac + "/local-ipv4s"),
		"instanceProfileArn": info.InstanceProfileArn,
	}
}

// credentialsPart: what the default chain found (no keys in the environment: the instance role).
func credentialsPart(ctx context.Context, cfg aws.Config) map[string]any {
	c := must(cfg.Credentials.Retrieve(ctx))
	return map[string]any{
		"source":       c.Source,
		"accessKeyId":  c.AccessKeyID,
		"sessionToken": c.SessionToken != "",
		"canExpire":    c.CanExpire,
		"expires":      c.Expires.UTC().Format(time.RFC3339),
	}
}

// ec2Part: create, attach, assign, describe (filters, pagination), detach, wait, delete; then errors.
func ec2Part(ctx context.Context, c *ec2.Client, instanceID string) map[string]any {
	inst := must(c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}}))
	subnet := *inst.Reservations[0].Instances[0].SubnetId
	tag := func(v string) []types.TagSpecification {
		return []types.TagSpecification{{
			ResourceType: types.ResourceTypeNetworkInterface,
			Tags:         []types.Tag{{Key: aws.String("vpc-cni-client"), Value: aws.String(v)}},
		}}
	}
	eni := must(c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: &subnet, Description: aws.String("aws-sdk-go-v2 scenario"),
		SecondaryPrivateIpAddressCount: aws.Int32(1), TagSpecifications: tag("go"),
	})).NetworkInterface
	id := *eni.NetworkInterfaceId
	att := must(c.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: &id, InstanceId: &instanceID, DeviceIndex: aws.Int32(1),
	}))
	assigned := must(c.AssignPrivateIpAddresses(ctx, &ec2.AssignPrivateIpAddressesInput{
		NetworkInterfaceId: &id, SecondaryPrivateIpAddressCount: aws.Int32(2),
	}))
	ids := []string{id}
	for range 6 {
		e := must(c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: &subnet, TagSpecifications: tag("go")}))
		ids = append(ids, *e.NetworkInterface.NetworkInterfaceId)
	}
	pages, paged := 0, []string{}
	p := ec2.NewDescribeNetworkInterfacesPaginator(c, &ec2.DescribeNetworkInterfacesInput{
		Filters:    []types.Filter{{Name: aws.String("tag:vpc-cni-client"), Values: []string{"go"}}},
		MaxResults: aws.Int32(5),
	})
	for p.HasMorePages() {
		page := must(p.NextPage(ctx))
		pages++
		for _, e := range page.NetworkInterfaces {
			paged = append(paged, *e.NetworkInterfaceId)
		}
	}
	attached := must(c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{instanceID}}},
	}))
	described := must(c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}}))
	must(c.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: att.AttachmentId}))
	waiter := ec2.NewNetworkInterfaceAvailableWaiter(c, func(o *ec2.NetworkInterfaceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 2*time.Second
	})
	if err := waiter.Wait(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}}, 2*time.Minute); err != nil {
		fail(err)
	}
	for _, e := range ids {
		must(c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(e)}))
	}
	_, gone := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	_, badFilter := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("no-such-filter"), Values: []string{"x"}}},
	})
	_, inUse := c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{
		NetworkInterfaceId: inst.Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId,
	})
	addrs := []string{}
	for _, a := range assigned.AssignedPrivateIpAddresses {
		addrs = append(addrs, *a.PrivateIpAddress)
	}
	attachedIds := []string{}
	for _, e := range attached.NetworkInterfaces {
		attachedIds = append(attachedIds, *e.NetworkInterfaceId)
	}
	d := described.NetworkInterfaces[0]
	return map[string]any{
		"subnetId":        subnet,
		"eniId":           id,
		"mac":             *eni.MacAddress,
		"attachmentId":    *att.AttachmentId,
		"assigned":        addrs,
		"describedIps":    len(d.PrivateIpAddresses),
		"describedStatus": string(d.Status),
		"describedDevice": *d.Attachment.DeviceIndex,
		"created":         ids,
		"pages":           pages,
		"paged":           paged,
		"attachedToSelf":  attachedIds,
		"notFound":        asAPIError(gone),
		"badFilter":       asAPIError(badFilter),
		"deletePrimary":   asAPIError(inUse),
	}
}

// throttlePart: one call while every call is throttled: the standard retryer retries it (3 attempts in
// all) and classifies the error as throttling.
func throttlePart(ctx context.Context, c *ec2.Client, counter *countingClient) map[string]any {
	before := counter.ec2.Load()
	_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err == nil {
		fail(errors.New("DescribeSubnets succeeded while the lab throttles every call"))
	}
	return map[string]any{
		"error":       asAPIError(err),
		"isThrottle":  retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary,
		"retryable":   retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary,
		"attempts":    counter.ec2.Load() - before,
		"maxAttempts": retry.DefaultMaxAttempts,
	}
}
