"""Records, loaders, validators and format converters for every dataset the studio handles."""
from .loaders import (
    LOADERS,
    DataError,
    LoadResult,
    check_images,
    detect_format,
    load_any,
    load_instructions,
    load_llvisionqa,
    load_mos_list,
    load_pathway,
    load_qbench_outputs,
    read_json_objects,
)
from .records import (
    QUESTION_CONCERNS,
    QUESTION_TYPES,
    InstructionItem,
    LLVisionQAItem,
    MosItem,
    PathwayRecord,
    QBenchOutput,
    Turn,
)

__all__ = [
    "LOADERS", "DataError", "LoadResult", "check_images", "detect_format", "load_any", "load_instructions",
    "load_llvisionqa", "load_mos_list", "load_pathway", "load_qbench_outputs", "read_json_objects",
    "QUESTION_CONCERNS", "QUESTION_TYPES", "InstructionItem", "LLVisionQAItem", "MosItem", "PathwayRecord",
    "QBenchOutput", "Turn",
]
