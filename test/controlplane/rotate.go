package controlplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RotateWebhookCertificate does what cert-manager does when it renews the
// serving certificate: the new issuer joins the CA bundle of every webhook
// configuration first, then a new tls.crt and tls.key replace the old ones
// in the endpoint's certificate directory, each written whole and renamed
// into place as the kubelet updates a mounted Secret. It returns the new
// certificate.
func (p *Plane) RotateWebhookCertificate(ctx context.Context) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "flink-ha-webhook rotated"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if ip := net.ParseIP(p.Webhook.Host); ip != nil && !ip.Equal(tmpl.IPAddresses[0]) {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil {
		tmpl.DNSNames = append(tmpl.DNSNames, p.Webhook.Host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	reg := p.Clientset.AdmissionregistrationV1()
	mutating, err := reg.MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range mutating.Items {
		c := &mutating.Items[i]
		for j := range c.Webhooks {
			c.Webhooks[j].ClientConfig.CABundle = append(c.Webhooks[j].ClientConfig.CABundle, certPEM...)
		}
		if _, err := reg.MutatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("adding the new CA to %s: %w", c.Name, err)
		}
	}
	validating, err := reg.ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range validating.Items {
		c := &validating.Items[i]
		for j := range c.Webhooks {
			c.Webhooks[j].ClientConfig.CABundle = append(c.Webhooks[j].ClientConfig.CABundle, certPEM...)
		}
		if _, err := reg.ValidatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("adding the new CA to %s: %w", c.Name, err)
		}
	}
	// The API server reads webhook configurations through an informer;
	// cainjector, too, leaves time between the bundle and the Secret.
	time.Sleep(2 * time.Second)

	for name, data := range map[string][]byte{
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"tls.crt": certPEM,
	} {
		tmp := filepath.Join(p.Webhook.CertDir, "."+name+".new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, filepath.Join(p.Webhook.CertDir, name)); err != nil {
			return nil, err
		}
	}
	return x509.ParseCertificate(der)
}
