/* Cython 3.1+ creates its coroutine, await-wrapper and function types as heap
 * types, whose instances hold a reference to their type, but releases that
 * reference when an instance dies only when the module is compiled with
 * CYTHON_USE_TYPE_SPECS. Without it, every coroutine, every await of one and
 * every function object the core creates left a reference behind on its type
 * (two per sock_* call: sys.gettotalrefcount grew with every call). This
 * redefinition, included after Cython's own and before its uses, releases the
 * reference whenever the type is a heap type. */
#ifndef AIOURING_HEAP_TYPES_H
#define AIOURING_HEAP_TYPES_H

#if defined(__Pyx_PyHeapTypeObject_GC_Del) && !CYTHON_USE_TYPE_SPECS
#undef __Pyx_PyHeapTypeObject_GC_Del
#define __Pyx_PyHeapTypeObject_GC_Del(obj) {                                    \
    PyTypeObject *aiouring_dead_type = Py_TYPE((PyObject *)(obj));              \
    int aiouring_heap_type = PyType_HasFeature(aiouring_dead_type, Py_TPFLAGS_HEAPTYPE); \
    PyObject_GC_Del(obj);                                                       \
    if (aiouring_heap_type)                                                     \
        Py_DECREF(aiouring_dead_type);                                          \
}
#endif

#endif
