"""Build the Cython extensions of antifake (metadata lives in pyproject.toml)."""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    extra_compile = ["/O2"]
else:
    extra_compile = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function"]

macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
here = os.path.dirname(os.path.abspath(__file__))
include = [np.get_include(), os.path.join(here, "src", "antifake")]

extensions = [
    Extension(
        "antifake._core",
        ["src/antifake/_core.pyx"],
        include_dirs=include,
        define_macros=macros,
        extra_compile_args=extra_compile,
    ),
    Extension(
        "antifake.graph._graph",
        ["src/antifake/graph/_graph.pyx"],
        include_dirs=include,
        define_macros=macros,
        extra_compile_args=extra_compile,
    ),
    Extension(
        "antifake.detect._detect",
        ["src/antifake/detect/_detect.pyx"],
        include_dirs=include,
        define_macros=macros,
        extra_compile_args=extra_compile,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
)
