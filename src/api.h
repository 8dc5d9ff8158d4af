/* api.h — internal declarations of the hak_* entry points that the interposed names forward to. */
#ifndef HAK_API_H
#define HAK_API_H

#include "hakmem.h"
#include <malloc.h>

struct mallinfo2 hak_mallinfo2(void);

#endif
