package main

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// runNode: the node get a node agent does at start (capacity, allocatable, providerID, addresses).
func runNode(ctx context.Context, o opts) error {
	cfg, err := restConfig(o, nil)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, o.node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	addrs := map[string]string{}
	for _, a := range n.Status.Addresses {
		addrs[string(a.Type)] = a.Address
	}
	emit(map[string]any{"result": map[string]any{
		"name":             n.Name,
		"providerID":       n.Spec.ProviderID,
		"capacityPods":     n.Status.Capacity.Pods().Value(),
		"allocatablePods":  n.Status.Allocatable.Pods().Value(),
		"capacityCpu":      n.Status.Capacity.Cpu().String(),
		"allocatableCpu":   n.Status.Allocatable.Cpu().String(),
		"addresses":        addrs,
		"instanceType":     n.Labels["node.kubernetes.io/instance-type"],
		"ready":            len(n.Status.Conditions) > 0 && n.Status.Conditions[0].Status == "True",
		"kubeletVersion":   n.Status.NodeInfo.KubeletVersion,
		"resourceVersion":  n.ResourceVersion,
		"creationNonEmpty": !n.CreationTimestamp.IsZero(),
	}})
	return nil
}

var eniConfigGVR = schema.GroupVersionResource{Group: "crd.k8s.amazonaws.com", Version: "v1alpha1", Resource: "eniconfigs"}

// runEniConfig: ENIConfig create, get, list, merge-patch and delete through the dynamic client.
func runEniConfig(ctx context.Context, o opts) error {
	cfg, err := restConfig(o, nil)
	if err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	res := dc.Resource(eniConfigGVR)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "crd.k8s.amazonaws.com/v1alpha1",
		"kind":       "ENIConfig",
		"metadata":   map[string]any{"name": "us-west-2a"},
		"spec":       map[string]any{"subnet": "subnet-0123456789abcdef0", "securityGroups": []any{"sg-1"}},
	}}
	created, err := res.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	got, err := res.Get(ctx, "us-west-2a", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	subnet, _, _ := unstructured.NestedString(got.Object, "spec", "subnet")
	patched, err := res.Patch(ctx, "us-west-2a", types.MergePatchType,
		[]byte(`{"spec":{"securityGroups":["sg-1","sg-2"]}}`), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	groups, _, _ := unstructured.NestedStringSlice(patched.Object, "spec", "securityGroups")
	list, err := res.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := res.Delete(ctx, "us-west-2a", metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	_, getErr := res.Get(ctx, "us-west-2a", metav1.GetOptions{})
	emit(map[string]any{"result": map[string]any{
		"createdKind":        created.GetKind(),
		"createdApiVersion":  created.GetAPIVersion(),
		"uid":                string(created.GetUID()) != "",
		"subnet":             subnet,
		"patchedGroups":      groups,
		"listKind":           list.GetKind(),
		"listed":             len(list.Items),
		"getAfterDelete":     errString(getErr),
		"getAfterDeleteCode": statusCode(getErr),
	}})
	return nil
}
