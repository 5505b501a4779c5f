#ifndef VISHWA_CSODIUM_SHIM_H
#define VISHWA_CSODIUM_SHIM_H
#include <sodium.h>
#endif
