// Command cri-client is a small CRI client (k8s.io/cri-api, runtime v1, the version in go.mod) used by the tests
// to drive containerd's CRI plugin exactly as kubelet does: one RPC per verb.
//
//	cri-client --socket PATH version
//	cri-client --socket PATH image-status --image REF
//	cri-client --socket PATH run --name N --namespace NS --uid U [--attempt N] [--cgroup-parent P]
//	cri-client --socket PATH status|stop|remove --id ID
//	cri-client --socket PATH list
//
// Answers go to stdout as JSON. A failed RPC prints {"grpcCode","message"} on stdout and exits 1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type options struct {
	socket, image, id, name, namespace, uid, cgroupParent string
	attempt                                               uint
	timeout                                               time.Duration
}

func main() {
	var o options
	fs := flag.NewFlagSet("cri-client", flag.ContinueOnError)
	fs.StringVar(&o.socket, "socket", "", "containerd's CRI socket")
	fs.DurationVar(&o.timeout, "timeout", 4*time.Minute, "deadline of the RPC (kubelet's default is 4m)")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() < 1 || o.socket == "" {
		fail(fmt.Errorf("usage: cri-client --socket PATH version|image-status|run|status|stop|remove|list [flags]"))
	}
	verb := fs.Arg(0)
	vfs := flag.NewFlagSet(verb, flag.ContinueOnError)
	vfs.StringVar(&o.image, "image", "", "image reference")
	vfs.StringVar(&o.id, "id", "", "pod sandbox ID")
	vfs.StringVar(&o.name, "name", "", "pod name")
	vfs.StringVar(&o.namespace, "namespace", "default", "pod namespace")
	vfs.StringVar(&o.uid, "uid", "", "pod UID")
	vfs.UintVar(&o.attempt, "attempt", 0, "sandbox attempt")
	vfs.StringVar(&o.cgroupParent, "cgroup-parent", "", "cgroup parent of the sandbox")
	if err := vfs.Parse(fs.Args()[1:]); err != nil {
		fail(err)
	}
	conn, err := grpc.Dial("unix://"+o.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	rt := runtime.NewRuntimeServiceClient(conn)
	out, err := call(ctx, verb, &o, rt, runtime.NewImageServiceClient(conn))
	if err != nil {
		fail(err)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// call makes the one RPC for verb.
func call(ctx context.Context, verb string, o *options, rt runtime.RuntimeServiceClient,
	img runtime.ImageServiceClient) (interface{}, error) {
	switch verb {
	case "version":
		return rt.Version(ctx, &runtime.VersionRequest{})
	case "image-status":
		r, err := img.ImageStatus(ctx, &runtime.ImageStatusRequest{Image: &runtime.ImageSpec{Image: o.image}})
		if err != nil {
			return nil, err
		}
		return map[string]interface{}{"present": r.Image != nil, "image": r.Image}, nil
	case "run":
		return rt.RunPodSandbox(ctx, &runtime.RunPodSandboxRequest{Config: sandboxConfig(o)})
	case "status":
		return sandboxStatus(ctx, rt, o.id)
	case "stop":
		return rt.StopPodSandbox(ctx, &runtime.StopPodSandboxRequest{PodSandboxId: o.id})
	case "remove":
		return rt.RemovePodSandbox(ctx, &runtime.RemovePodSandboxRequest{PodSandboxId: o.id})
	case "list":
		return rt.ListPodSandbox(ctx, &runtime.ListPodSandboxRequest{})
	}
	return nil, fmt.Errorf("unknown verb %q", verb)
}

// sandboxConfig is the pod sandbox config kubelet sends for a plain pod on the pod network.
func sandboxConfig(o *options) *runtime.PodSandboxConfig {
	return &runtime.PodSandboxConfig{
		Metadata: &runtime.PodSandboxMetadata{
			Name: o.name, Namespace: o.namespace, Uid: o.uid, Attempt: uint32(o.attempt),
		},
		Hostname:     o.name,
		LogDirectory: "",
		Labels: map[string]string{
			"io.kubernetes.pod.name": o.name, "io.kubernetes.pod.namespace": o.namespace,
			"io.kubernetes.pod.uid": o.uid,
		},
		Linux: &runtime.LinuxPodSandboxConfig{
			CgroupParent: o.cgroupParent,
			SecurityContext: &runtime.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtime.NamespaceOption{Network: runtime.NamespaceMode_POD},
			},
		},
	}
}

// sandboxStatus is PodSandboxStatus (verbose): state, IPs, and from containerd's info the sandbox's pid, its
// network namespace path and the CNI result containerd kept.
func sandboxStatus(ctx context.Context, rt runtime.RuntimeServiceClient, id string) (interface{}, error) {
	r, err := rt.PodSandboxStatus(ctx, &runtime.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{"id": r.Status.Id, "state": r.Status.State.String(), "metadata": r.Status.Metadata}
	if n := r.Status.Network; n != nil {
		out["ip"] = n.Ip
		out["additionalIps"] = n.AdditionalIps
	}
	var info struct {
		Pid         uint32          `json:"pid"`
		CNIResult   json.RawMessage `json:"cniResult"`
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct{ Type, Path string } `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if err := json.Unmarshal([]byte(r.Info["info"]), &info); err == nil {
		out["pid"] = info.Pid
		out["cniResult"] = info.CNIResult
		for _, ns := range info.RuntimeSpec.Linux.Namespaces {
			if ns.Type == "network" {
				out["netnsPath"] = ns.Path
			}
		}
	}
	return out, nil
}

// fail prints the gRPC status (code and message) of err and exits 1.
func fail(err error) {
	s, _ := status.FromError(err)
	b, _ := json.Marshal(map[string]string{"grpcCode": s.Code().String(), "message": s.Message()})
	fmt.Println(string(b))
	os.Exit(1)
}
