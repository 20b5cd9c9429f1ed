// Command cni-driver is a small CLI over libcni's CNIConfig (github.com/containernetworking/cni, the version
// in go.mod), used by the tests to drive CNI plugins exactly as a libcni-based runtime (containerd, CRI-O)
// would. Every verb is one libcni call: AddNetworkList, CheckNetworkList, DelNetworkList, GCNetworkList,
// GetStatusNetworkList, GetVersionInfo.
//
// Results go to stdout as JSON. On failure it prints the CNI error object
// ({"code","msg","details"}; code 0 when the error did not come from a plugin)
// on stdout and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// libcniVersion is the version of github.com/containernetworking/cni this binary was built with.
var libcniVersion = func() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/containernetworking/cni" {
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return "unknown"
}()

type options struct {
	conflist, binDir, netns, containerID, ifName string
	args, portMappings, capabilityArgs, cacheDir string
	cniVersion                                   string
	validAttachments                             string
	n                                            int
	// parallel-add: retry an ADD that failed with this CNI code as kubelet retries a pod sandbox (0: never);
	// keep: leave the pods added (no DEL of the batch).
	retryCode int
	keep      bool
}

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: cni-driver add|check|del|gc|status|version|bench-add-del|parallel-add [flags]"))
	}
	verb := os.Args[1]
	var o options
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.StringVar(&o.conflist, "conflist", "", "network configuration list file")
	fs.StringVar(&o.binDir, "bin-dir", "/opt/cni/bin", "plugin directories, colon-separated")
	fs.StringVar(&o.netns, "netns", "", "netns path (bench modes: comma-separated list)")
	fs.StringVar(&o.containerID, "container-id", "", "container ID (bench modes: a prefix)")
	fs.StringVar(&o.ifName, "ifname", "eth0", "interface name in the container")
	fs.StringVar(&o.args, "args", "", "CNI_ARGS, K=V;K=V")
	fs.StringVar(&o.portMappings, "port-mappings", "", "portMappings capability, JSON array")
	fs.StringVar(&o.capabilityArgs, "capability-args", "", `more capability args, JSON {"bandwidth":{...}}`)
	fs.StringVar(&o.cacheDir, "cache-dir", "", "libcni cache dir (default /var/lib/cni)")
	fs.StringVar(&o.cniVersion, "cni-version", "", "rewrite the conflist's cniVersion")
	fs.IntVar(&o.n, "n", 30, "operations for the bench modes")
	fs.StringVar(&o.validAttachments, "valid-attachments", "[]", `GC: JSON [{"containerID":..,"ifname":..}]`)
	fs.IntVar(&o.retryCode, "retry-code", 0, "parallel-add: DEL and retry an ADD failing with this CNI code, as kubelet does")
	fs.BoolVar(&o.keep, "keep", false, "parallel-add: leave the pods added (no DEL)")
	if err := fs.Parse(os.Args[2:]); err != nil {
		fail(err)
	}
	ctx := context.Background()
	switch verb {
	case "version":
		printJSON(versionInfo(ctx, &o))
	case "gc":
		if o.cacheDir == "" {
			// GCNetworkList DELs every cached attachment of the network that is not valid: never the system's.
			fail(fmt.Errorf("gc: give --cache-dir (libcni's default /var/lib/cni is shared with other runtimes)"))
		}
		var valid []types.GCAttachment
		if err := json.Unmarshal([]byte(o.validAttachments), &valid); err != nil {
			fail(fmt.Errorf("--valid-attachments: %w", err))
		}
		cfg, list, _ := setup(&o)
		if err := cfg.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: valid}); err != nil {
			fail(err)
		}
		fmt.Println("{}")
	case "status":
		cfg, list, _ := setup(&o)
		if err := cfg.GetStatusNetworkList(ctx, list); err != nil {
			fail(err)
		}
		fmt.Println("{}")
	case "add", "check", "del":
		cfg, list, rt := setup(&o)
		var err error
		var res types.Result
		switch verb {
		case "add":
			res, err = cfg.AddNetworkList(ctx, list, rt)
		case "check":
			err = cfg.CheckNetworkList(ctx, list, rt)
		case "del":
			err = cfg.DelNetworkList(ctx, list, rt)
		}
		if err != nil {
			fail(err)
		}
		if res == nil {
			fmt.Println("{}")
			return
		}
		printJSON(res)
	case "bench-add-del":
		printJSON(benchAddDel(ctx, &o))
	case "parallel-add":
		printJSON(parallelAdd(ctx, &o))
	default:
		fail(fmt.Errorf("unknown verb %q", verb))
	}
}

// setup loads the conflist and builds the libcni config and runtime conf.
func setup(o *options) (*libcni.CNIConfig, *libcni.NetworkConfigList, *libcni.RuntimeConf) {
	raw, err := os.ReadFile(o.conflist)
	if err != nil {
		fail(err)
	}
	if o.cniVersion != "" {
		m := map[string]interface{}{}
		if err := json.Unmarshal(raw, &m); err != nil {
			fail(err)
		}
		m["cniVersion"] = o.cniVersion
		if raw, err = json.Marshal(m); err != nil {
			fail(err)
		}
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		fail(err)
	}
	cfg := libcni.NewCNIConfigWithCacheDir(strings.Split(o.binDir, ":"), o.cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: o.containerID, NetNS: o.netns, IfName: o.ifName}
	for _, kv := range strings.Split(o.args, ";") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		rt.Args = append(rt.Args, [2]string{k, v})
	}
	rt.CapabilityArgs = map[string]interface{}{}
	if o.capabilityArgs != "" {
		if err := json.Unmarshal([]byte(o.capabilityArgs), &rt.CapabilityArgs); err != nil {
			fail(fmt.Errorf("--capability-args: %w", err))
		}
	}
	if o.portMappings != "" {
		var pm interface{}
		if err := json.Unmarshal([]byte(o.portMappings), &pm); err != nil {
			fail(fmt.Errorf("--port-mappings: %w", err))
		}
		rt.CapabilityArgs["portMappings"] = pm
	}
	return cfg, list, rt
}

// versionInfo reports libcni's version, its spec versions and each plugin's VERSION answer.
func versionInfo(ctx context.Context, o *options) map[string]interface{} {
	out := map[string]interface{}{
		"libcni":            libcniVersion,
		"specVersion":       version.Current(),
		"supportedVersions": version.All.SupportedVersions(),
		"verbs":             []string{"ADD", "CHECK", "DEL", "GC", "STATUS", "VERSION"},
	}
	if o.conflist != "" {
		cfg, list, _ := setup(o)
		plugins := map[string]interface{}{}
		for _, p := range list.Plugins {
			info, err := cfg.GetVersionInfo(ctx, p.Network.Type)
			if err != nil {
				plugins[p.Network.Type] = map[string]string{"error": err.Error()}
				continue
			}
			plugins[p.Network.Type] = info.SupportedVersions()
		}
		out["plugins"] = plugins
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchAddDel times n sequential ADD+DEL cycles in the first netns.
func benchAddDel(ctx context.Context, o *options) map[string][]float64 {
	o.netns = strings.Split(o.netns, ",")[0]
	cfg, list, rt := setup(o)
	prefix := o.containerID
	out := map[string][]float64{"add_ms": {}, "del_ms": {}}
	for i := 0; i < o.n; i++ {
		rt.ContainerID = fmt.Sprintf("%s-%d", prefix, i)
		t := time.Now()
		if _, err := cfg.AddNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
		out["add_ms"] = append(out["add_ms"], ms(time.Since(t)))
		t = time.Now()
		if err := cfg.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
		out["del_ms"] = append(out["del_ms"], ms(time.Since(t)))
	}
	return out
}

// cniCode is the CNI error code of err (0 when it did not come from a plugin).
func cniCode(err error) int {
	var e *types.Error
	if errors.As(err, &e) {
		return int(e.Code)
	}
	return 0
}

// addLikeKubelet runs one ADD; with o.retryCode, an ADD failing with that code is DELed (the runtime tears the
// sandbox down) and tried again after 250 ms, doubling to 4 s, for up to 2 minutes, as kubelet retries a pod
// sandbox. It returns the number of retries.
func addLikeKubelet(ctx context.Context, o *options, cfg *libcni.CNIConfig, list *libcni.NetworkConfigList,
	rt *libcni.RuntimeConf) (int, error) {
	start := time.Now()
	delay := 250 * time.Millisecond
	for retries := 0; ; retries++ {
		_, err := cfg.AddNetworkList(ctx, list, rt)
		if err == nil || o.retryCode == 0 || cniCode(err) != o.retryCode || time.Since(start) > 2*time.Minute {
			return retries, err
		}
		_ = cfg.DelNetworkList(ctx, list, rt)
		time.Sleep(delay)
		if delay *= 2; delay > 4*time.Second {
			delay = 4 * time.Second
		}
	}
}

// parallelAdd starts one ADD per netns at once (n of them), then deletes them all at once (unless o.keep).
// With o.retryCode each ADD is retried as kubelet would (addLikeKubelet); "retries" counts them.
func parallelAdd(ctx context.Context, o *options) map[string][]float64 {
	nss := strings.Split(o.netns, ",")
	if len(nss) < o.n {
		fail(fmt.Errorf("parallel-add: --n %d needs %d netns paths, got %d", o.n, o.n, len(nss)))
	}
	cfg, list, base := setup(o)
	rts := make([]*libcni.RuntimeConf, o.n)
	for i := range rts {
		rt := *base
		rt.NetNS = nss[i]
		rt.ContainerID = fmt.Sprintf("%s-%d", base.ContainerID, i)
		rts[i] = &rt
	}
	run := func(op func(*libcni.RuntimeConf) error) ([]float64, error) {
		times := make([]float64, o.n)
		errs := make([]error, o.n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range rts {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = op(rts[i])
				times[i] = ms(time.Since(start))
			}(i)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return times, err
			}
		}
		return times, nil
	}
	var mu sync.Mutex
	retries := 0
	add, addErr := run(func(rt *libcni.RuntimeConf) error {
		n, err := addLikeKubelet(ctx, o, cfg, list, rt)
		mu.Lock()
		retries += n
		mu.Unlock()
		return err
	})
	del := []float64{}
	var delErr error
	if !o.keep || addErr != nil {
		del, delErr = run(func(rt *libcni.RuntimeConf) error { return cfg.DelNetworkList(ctx, list, rt) })
	}
	if addErr != nil {
		fail(addErr)
	}
	if delErr != nil {
		fail(delErr)
	}
	return map[string][]float64{"add_ms": add, "del_ms": del, "retries": {float64(retries)}}
}

func printJSON(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(b))
}

// fail prints the CNI error object (the plugin's, when there is one) and exits 1.
func fail(err error) {
	out := &types.Error{Msg: err.Error()}
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		out = &types.Error{Code: cniErr.Code, Msg: cniErr.Msg, Details: cniErr.Details}
		if out.Details == "" && cniErr.Error() != err.Error() {
			out.Details = err.Error()
		}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	os.Exit(1)
}
