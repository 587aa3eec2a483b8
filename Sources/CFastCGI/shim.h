#ifndef LYNX_CFASTCGI_SHIM_H
#define LYNX_CFASTCGI_SHIM_H
#include <fcgiapp.h>
/* The accept loop waits on the listening socket with epoll (EPOLLEXCLUSIVE), which Swift's
 * Glibc module does not export. */
#include <sys/epoll.h>
#endif
