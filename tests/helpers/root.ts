/** `Deno.test` options that ignore the test when not root, saying why once. */
export const rootOnly = { ignore: Deno.uid() !== 0 };
if (Deno.uid() !== 0) {
  console.log("skip: root-only tests are ignored: they need kernel namespaces, netlink and iptables.");
}
