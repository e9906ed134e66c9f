/*
 * Plain YAML documents straight from libyaml's events to Python objects.
 *
 * load(data, plain, first_chars, max_depth) builds lists, dicts and strings without
 * PyYAML's nodes and marks. A plain scalar whose first character can start a non-string
 * (first_chars; an empty scalar always) is passed to `plain`, which resolves and constructs
 * it the way PyYAML's safe loader does. Anything this builder does not handle returns the
 * FALLBACK object, and the caller loads the document with PyYAML instead (which then gives
 * the result or the error): parse errors, tags, anchors and aliases, several documents,
 * a collection used as a key, a key used twice in one mapping, nesting deeper than max_depth,
 * and any exception `plain` raises.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <yaml.h>

static PyObject *FALLBACK;

typedef struct {
    PyObject *container; /* a list or a dict (owned) */
    PyObject *key;       /* a dict's key waiting for its value (owned), or NULL */
} Frame;

typedef enum { BUILD_OK, BUILD_FALLBACK, BUILD_ERROR } Outcome;

static void free_frames(Frame *frames, int depth) {
    for (int i = 0; i < depth; i++) {
        Py_XDECREF(frames[i].container);
        Py_XDECREF(frames[i].key);
    }
}

/* Outcome of a failed Python call: an ordinary exception falls back, anything else
 * (KeyboardInterrupt, MemoryError raised as such) propagates. */
static Outcome failed_call(void) {
    if (PyErr_ExceptionMatches(PyExc_Exception) && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Clear();
        return BUILD_FALLBACK;
    }
    return BUILD_ERROR;
}

static Outcome scalar_value(yaml_event_t *event, PyObject *plain, PyObject *cache,
                            const char *first_chars, PyObject **out) {
    const char *text = (const char *)event->data.scalar.value;
    Py_ssize_t length = (Py_ssize_t)event->data.scalar.length;
    PyObject *value = PyUnicode_DecodeUTF8(text, length, "strict");
    if (value == NULL) {
        return failed_call();
    }
    int resolve = event->data.scalar.plain_implicit &&
                  (length == 0 || (text[0] != '\0' && strchr(first_chars, text[0]) != NULL));
    if (!resolve) {
        *out = value;
        return BUILD_OK;
    }
    PyObject *known = PyDict_GetItemWithError(cache, value);
    if (known != NULL) {
        Py_DECREF(value);
        Py_INCREF(known);
        *out = known;
        return BUILD_OK;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(value);
        return BUILD_ERROR;
    }
    PyObject *resolved = PyObject_CallOneArg(plain, value);
    if (resolved == NULL) {
        Py_DECREF(value);
        return failed_call();
    }
    if (PyDict_SetItem(cache, value, resolved) < 0) {
        Py_DECREF(value);
        Py_DECREF(resolved);
        return BUILD_ERROR;
    }
    Py_DECREF(value);
    *out = resolved;
    return BUILD_OK;
}

/* Attach a finished value (owned) to the innermost open collection. */
static Outcome attach(Frame *frame, PyObject *value, int value_is_collection) {
    if (PyList_CheckExact(frame->container)) {
        int failed = PyList_Append(frame->container, value);
        Py_DECREF(value);
        return failed ? BUILD_ERROR : BUILD_OK;
    }
    if (frame->key == NULL) {
        if (value_is_collection) {
            Py_DECREF(value);
            return BUILD_FALLBACK; /* PyYAML decides (usually: unhashable key) */
        }
        frame->key = value;
        return BUILD_OK;
    }
    int present = PyDict_Contains(frame->container, frame->key);
    if (present != 0) { /* a duplicate key (or a key that cannot be hashed): PyYAML decides */
        Py_CLEAR(frame->key);
        Py_DECREF(value);
        if (present < 0) {
            return failed_call();
        }
        return BUILD_FALLBACK;
    }
    int failed = PyDict_SetItem(frame->container, frame->key, value);
    Py_CLEAR(frame->key);
    Py_DECREF(value);
    return failed ? failed_call() : BUILD_OK;
}

static Outcome build(yaml_parser_t *parser, PyObject *plain, const char *first_chars,
                     int max_depth, PyObject **root) {
    Frame *frames = PyMem_Calloc((size_t)max_depth + 1, sizeof(Frame));
    PyObject *cache = PyDict_New();
    if (frames == NULL || cache == NULL) {
        PyMem_Free(frames);
        Py_XDECREF(cache);
        PyErr_NoMemory();
        return BUILD_ERROR;
    }
    int depth = 0, documents = 0, done = 0;
    Outcome outcome = BUILD_OK;
    yaml_event_t event;
    while (!done && outcome == BUILD_OK) {
        if (!yaml_parser_parse(parser, &event)) {
            outcome = BUILD_FALLBACK; /* PyYAML reports the error with its position */
            break;
        }
        PyObject *value = NULL;
        int is_collection = 0;
        switch (event.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                outcome = BUILD_FALLBACK;
            }
            break;
        case YAML_ALIAS_EVENT:
            outcome = BUILD_FALLBACK;
            break;
        case YAML_SCALAR_EVENT:
            if (event.data.scalar.anchor != NULL || event.data.scalar.tag != NULL) {
                outcome = BUILD_FALLBACK;
            } else {
                outcome = scalar_value(&event, plain, cache, first_chars, &value);
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            int sequence = event.type == YAML_SEQUENCE_START_EVENT;
            yaml_char_t *anchor = sequence ? event.data.sequence_start.anchor
                                           : event.data.mapping_start.anchor;
            yaml_char_t *tag = sequence ? event.data.sequence_start.tag
                                        : event.data.mapping_start.tag;
            if (anchor != NULL || tag != NULL || depth >= max_depth) {
                outcome = BUILD_FALLBACK;
                break;
            }
            PyObject *container = sequence ? PyList_New(0) : PyDict_New();
            if (container == NULL) {
                outcome = BUILD_ERROR;
                break;
            }
            frames[depth].container = container;
            frames[depth].key = NULL;
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            value = frames[depth].container;
            frames[depth].container = NULL;
            Py_CLEAR(frames[depth].key);
            is_collection = 1;
            break;
        default: /* stream start, document end */
            break;
        }
        yaml_event_delete(&event);
        if (value == NULL || outcome != BUILD_OK) {
            Py_XDECREF(value);
            continue;
        }
        if (depth == 0) {
            Py_XDECREF(*root);
            *root = value;
        } else {
            outcome = attach(&frames[depth - 1], value, is_collection);
        }
    }
    free_frames(frames, depth);
    PyMem_Free(frames);
    Py_DECREF(cache);
    if (outcome != BUILD_OK) {
        Py_CLEAR(*root);
    }
    return outcome;
}

static PyObject *fastyaml_load(PyObject *module, PyObject *args) {
    Py_buffer data;
    PyObject *plain;
    const char *first_chars;
    int max_depth;
    if (!PyArg_ParseTuple(args, "y*Osi:load", &data, &plain, &first_chars, &max_depth)) {
        return NULL;
    }
    if (max_depth < 0) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "max_depth must not be negative");
        return NULL;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data.buf, (size_t)data.len);
    PyObject *root = NULL;
    Outcome outcome = build(&parser, plain, first_chars, max_depth, &root);
    yaml_parser_delete(&parser);
    PyBuffer_Release(&data);
    if (outcome == BUILD_ERROR) {
        return NULL;
    }
    if (outcome == BUILD_FALLBACK) {
        return Py_NewRef(FALLBACK);
    }
    return root != NULL ? root : Py_NewRef(Py_None);
}

static PyObject *fastyaml_libyaml_version(PyObject *module, PyObject *unused) {
    return PyUnicode_FromString(yaml_get_version_string());
}

static PyMethodDef methods[] = {
    {"libyaml_version", fastyaml_libyaml_version, METH_NOARGS,
     "libyaml_version() -> str: the version of the libyaml this module was linked with."},
    {"load", fastyaml_load, METH_VARARGS,
     "load(data, plain, first_chars, max_depth) -> object or FALLBACK\n\n"
     "Build a plain single YAML document from UTF-8 bytes; FALLBACK when PyYAML must."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fastyaml",
    "Plain YAML documents straight from libyaml's events to Python objects.", -1, methods,
};

PyMODINIT_FUNC PyInit__fastyaml(void) {
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    FALLBACK = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (FALLBACK == NULL || PyModule_AddObjectRef(module, "FALLBACK", FALLBACK) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
