/**
 * boto3/botocore against a lab node: `tests/clients/python/boto3_scenario.py` (in the cached venv) runs the
 * scenario of `aws_scenario.ts` inside the node's namespace, with botocore's own IMDS fetchers
 * (InstanceMetadataFetcher, InstanceMetadataRegionFetcher) and credential chain, then one call while the lab
 * throttles every call, classified by botocore's ThrottlingErrorDetector. Root only.
 * @module
 */
import assert from "node:assert/strict";
import { labStatus, withLab } from "../helpers/lab.ts";
import { rootOnly } from "../helpers/root.ts";
import { checkScenario, checkThrottle, clientEnv, runClient, setFaults } from "./aws_scenario.ts";
import { ensurePythonEnv, PYTHON_DIR } from "./python_env.ts";

Deno.test({
  name:
    "boto3: botocore's IMDS fetcher and instance-role credentials, an ENI's life, ClientError codes, throttling",
  ...rootOnly,
  async fn() {
    const { python } = await ensurePythonEnv();
    const script = `${PYTHON_DIR}boto3_scenario.py`;
    const home = await Deno.makeTempDir({ prefix: "boto3-home-" });
    try {
      await withLab({ nodes: 1, ipamd: false }, async (lab) => {
        const report = await runClient(lab, 0, [python, script, "scenario"], clientEnv(home));
        console.log(`boto3: ${JSON.stringify(report.versions)}`);
        await checkScenario(lab, 0, report, "iam-role");
        assert.equal(report.imds.fetcherAccessKeyId, report.credentials.accessKeyId);
        const before = (await labStatus(lab.stateDir)).nodes[0].ec2Rejected.DescribeSubnets ?? 0;
        await setFaults(lab, "throttle=1");
        try {
          const t = await runClient(lab, 0, [python, script, "throttle"], clientEnv(home));
          await checkThrottle(lab, 0, t, before);
        } finally {
          await setFaults(lab, "");
        }
      });
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
