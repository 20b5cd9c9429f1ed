package main

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

func newEvent(name, node string) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node},
		Reason:         "ClientGoConformance",
		Message:        "an event from client-go",
		Type:           corev1.EventTypeNormal,
	}
}

// runProtobuf: client-go v0.35's typed clients send protobuf bodies for built-in types unless the config
// names a content type; the lab decodes them (src/sim/kube_protobuf) and answers JSON, which client-go
// accepts. Both creates must succeed, and the node read too.
func runProtobuf(ctx context.Context, o opts) error {
	log := newRequestLog()
	cfg, err := restConfig(o, log)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	events := cs.CoreV1().Events("default")
	_, first := events.Create(ctx, newEvent("protobuf-1", o.node), metav1.CreateOptions{})
	_, second := events.Create(ctx, newEvent("protobuf-2", o.node), metav1.CreateOptions{})
	node, getErr := cs.CoreV1().Nodes().Get(ctx, o.node, metav1.GetOptions{})
	name := ""
	if node != nil {
		name = node.Name
	}
	return emitTwice(first, second, map[string]any{"getNode": name, "getError": errString(getErr), "requests": log.since(0)})
}

// runCbor: the dynamic client with the feature gates ClientsAllowCBOR and ClientsPreferCBOR (from the
// environment) sends CBOR, which the lab does not decode; after its 415 client-go falls back to JSON for later
// requests.
func runCbor(ctx context.Context, o opts) error {
	log := newRequestLog()
	cfg, err := restConfig(o, log)
	if err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	events := dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace("default")
	mk := func(name string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion":     "v1",
			"kind":           "Event",
			"metadata":       map[string]any{"name": name},
			"involvedObject": map[string]any{"kind": "Node", "name": o.node},
			"reason":         "ClientGoConformance",
			"message":        "an event from client-go (CBOR)",
		}}
	}
	_, first := events.Create(ctx, mk("cbor-1"), metav1.CreateOptions{})
	_, second := events.Create(ctx, mk("cbor-2"), metav1.CreateOptions{})
	return emitTwice(first, second, map[string]any{"requests": log.since(0)})
}

// emitTwice prints the outcome of two creates (the first error's Status fields) with extra fields.
func emitTwice(first, second error, extra map[string]any) error {
	var status *apierrors.StatusError
	reason, message := "", ""
	if errors.As(first, &status) {
		reason = string(status.ErrStatus.Reason)
		message = status.ErrStatus.Message
	}
	out := map[string]any{
		"firstError":         errString(first),
		"firstCode":          statusCode(first),
		"firstReason":        reason,
		"firstMessage":       message,
		"isUnsupportedMedia": apierrors.IsUnsupportedMediaType(first),
		"secondError":        errString(second),
		"secondCode":         statusCode(second),
	}
	for k, v := range extra {
		out[k] = v
	}
	emit(map[string]any{"result": out})
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func statusCode(err error) int32 {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Code
	}
	if err != nil {
		return -1
	}
	return 0
}
