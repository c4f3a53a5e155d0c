// SPDX-License-Identifier: MIT
/*
 * Built as a tiny shared object whose DT_SONAME is "libssl.so" and embedded
 * into kiln (web/tls.c). Debian 12's civetweb 1.15 loads OpenSSL at run time
 * with dlopen("libssl.so") and calls SSL_get_peer_certificate on every TLS
 * connection, a function OpenSSL 3 only has as a macro: the symbol is NULL
 * and the first https request crashes the server. With this object loaded
 * first, civetweb's dlopen finds it by its soname, and its lookups find this
 * one function here and every other one in the real libssl.so.3 it links.
 * OpenSSL 1.1's SSL_get_peer_certificate already took a reference, exactly
 * as SSL_get1_peer_certificate does, so civetweb's X509_free stays right.
 */
void *SSL_get1_peer_certificate(const void *ssl);
void *SSL_get_peer_certificate(const void *ssl);

void *SSL_get_peer_certificate(const void *ssl)
{
	return SSL_get1_peer_certificate(ssl);
}
