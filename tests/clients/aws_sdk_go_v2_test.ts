/**
 * aws-sdk-go-v2 (service/ec2, feature/ec2/imds, config) against a lab node: the Go program in
 * `tests/clients/aws_sdk_go_v2/` (built once into the shared Go cache) runs the scenario of
 * `aws_scenario.ts` inside the node's namespace, then one call while the lab throttles every call. Root only.
 * @module
 */
import { ensureGoProgram } from "../../src/sim/go_build.ts";
import { labStatus, withLab } from "../helpers/lab.ts";
import { rootOnly } from "../helpers/root.ts";
import { AWS_SDK_GO_V2 } from "../../harness/go_clients.ts";
import { checkScenario, checkThrottle, clientEnv, runClient, setFaults } from "./aws_scenario.ts";

Deno.test({
  name: "aws-sdk-go-v2: IMDSv2, instance-role credentials, an ENI's life, APIError codes, throttling retries",
  ...rootOnly,
  async fn() {
    const { path: bin } = await ensureGoProgram(AWS_SDK_GO_V2);
    const home = await Deno.makeTempDir({ prefix: "aws-go-home-" });
    try {
      await withLab({ nodes: 1, ipamd: false }, async (lab) => {
        const report = await runClient(lab, 0, [bin, "scenario"], clientEnv(home));
        console.log(`aws-sdk-go-v2: ${JSON.stringify(report.versions)}`);
        await checkScenario(lab, 0, report, "EC2RoleProvider");
        const before = (await labStatus(lab.stateDir)).nodes[0].ec2Rejected.DescribeSubnets ?? 0;
        await setFaults(lab, "throttle=1");
        try {
          await checkThrottle(lab, 0, await runClient(lab, 0, [bin, "throttle"], clientEnv(home)), before);
        } finally {
          await setFaults(lab, "");
        }
      });
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
