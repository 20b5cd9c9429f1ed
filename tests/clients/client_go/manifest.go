package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// runDecodeStrict decodes every document of a YAML manifest as the API server does with
// fieldValidation=Strict: into the Go type of its apiVersion/kind, failing on unknown or duplicate fields
// and on values of the wrong type. One {"step": "decoded"} line per document, then the result.
func runDecodeStrict(path string) error {
	sch := runtime.NewScheme()
	if err := scheme.AddToScheme(sch); err != nil {
		return err
	}
	if err := apiextensionsv1.AddToScheme(sch); err != nil {
		return err
	}
	codecs := serializer.NewCodecFactory(sch, serializer.EnableStrict)
	decoder := codecs.UniversalDeserializer()
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	reader := utilyaml.NewYAMLReader(bufioReader(data))
	problems := []string{}
	count := 0
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
			continue
		}
		count++
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", count, err))
			continue
		}
		emit(map[string]any{"step": "decoded", "kind": gvk.Kind, "apiVersion": gvk.GroupVersion().String(), "type": fmt.Sprintf("%T", obj)})
	}
	emit(map[string]any{"result": map[string]any{"documents": count, "problems": problems}})
	return nil
}

func isOnlyComments(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' && string(t) != "---" {
			return false
		}
	}
	return true
}
