import assert from "node:assert/strict";
import { Ec2Error } from "../aws/ec2_port.ts";
import { QueryParams } from "./ec2_query.ts";
import { errorXml, xmlEscape } from "./ec2_query_xml.ts";

Deno.test("QueryParams reads flattened lists, filters, tags and tag specifications", () => {
  const p = QueryParams.parse(
    "Action=CreateNetworkInterface&SubnetId=subnet-1&SecurityGroupId.2=sg-b&SecurityGroupId.1=sg-a" +
      "&Filter.1.Name=tag%3Ax&Filter.1.Value.1=1&Filter.1.Value.2=2&Filter.2.Name=status&Filter.2.Value.1=available" +
      "&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v" +
      "&MaxResults=5&Force=true",
  );
  assert.equal(p.need("SubnetId"), "subnet-1");
  assert.deepEqual(p.list("SecurityGroupId"), ["sg-a", "sg-b"]);
  assert.deepEqual(p.filters(), [
    { name: "tag:x", values: ["1", "2"] },
    { name: "status", values: ["available"] },
  ]);
  assert.deepEqual(p.tagSpecifications("network-interface"), [{ key: "k", value: "v" }]);
  assert.equal(p.int("MaxResults"), 5);
  assert.equal(p.bool("Force"), true);
  assert.equal(p.int("Nope"), undefined);
  assert.throws(() => p.need("Nope"), (e) => e instanceof Ec2Error && e.code === "MissingParameter");
  assert.throws(
    () => QueryParams.parse("N=abc").int("N"),
    (e) => e instanceof Ec2Error && e.code === "InvalidParameterValue",
  );
  assert.throws(
    () =>
      QueryParams.parse("TagSpecification.1.ResourceType=instance").tagSpecifications("network-interface"),
    (e) => e instanceof Ec2Error && e.code === "InvalidParameterValue",
  );
});

Deno.test("query string and body are both read (GET works like curl)", () => {
  const p = QueryParams.parse("B=2", "?Action=DescribeInstances&A=1");
  assert.equal(p.get("Action"), "DescribeInstances");
  assert.equal(p.get("A"), "1");
  assert.equal(p.get("B"), "2");
});

Deno.test("XML escaping and the error document", () => {
  assert.equal(xmlEscape(`<a href="x">&'`), `&lt;a href="x"&gt;&amp;'`);
  assert.equal(
    errorXml("Bad<Code>", "m&m", "rid"),
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>Bad&lt;Code&gt;</Code>` +
      `<Message>m&amp;m</Message></Error></Errors><RequestID>rid</RequestID></Response>`,
  );
});
