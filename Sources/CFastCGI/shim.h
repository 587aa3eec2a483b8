#ifndef LYNX_CFASTCGI_SHIM_H
#define LYNX_CFASTCGI_SHIM_H
#include <fcgiapp.h>
#endif
