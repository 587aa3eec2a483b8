#ifndef LYNX_CARGON2_SHIM_H
#define LYNX_CARGON2_SHIM_H
#include <argon2.h>
#endif
