/** Root-only test guard: returns true (and logs one clear line) when the test must be skipped. */
export function skipUnlessRoot(what: string): boolean {
  if (Deno.uid() === 0) return false;
  console.log(`skip: ${what} needs root (kernel namespaces, netlink, iptables); run the tests as root.`);
  return true;
}

/** `Deno.test` options that ignore the test when not root, saying why once. */
export const rootOnly = { ignore: Deno.uid() !== 0 };
if (Deno.uid() !== 0) {
  console.log("skip: root-only tests are ignored: they need kernel namespaces, netlink and iptables.");
}
