/* commands.h — the subcommands of `pixl`, one line each, in the order
 * `pixl help` lists them: PIXL_COMMAND(NAME, HELP) runs
 * int cmd_NAME(int argc, char **argv) (tools/cmd_NAME.c, or the file named
 * beside it) for `pixl NAME`. tools/pixl.c includes this list twice: once
 * for the declarations, once for its command table. A new command is its
 * file and one line here. */
PIXL_COMMAND(demo, "the embedded default: train, evaluate, predict and report on synthetic data") /* cmd_train.c */
PIXL_COMMAND(train, "train from a YAML config: pixl train CONFIG [--set K=V] [--resume RUN]; --print-config")
PIXL_COMMAND(eval, "evaluate a model: pixl eval MODEL --dataset KIND --root DIR [--split val] [--flip]") /* cmd_train.c */
PIXL_COMMAND(predict, "label images: pixl predict --model MODEL IMAGE... [--out DIR]") /* cmd_train.c */
PIXL_COMMAND(info, "a model's parameters, GFLOPs and memory: pixl info MODEL [--input 3x360x480]")
PIXL_COMMAND(report, "an HTML report of a training run: pixl report RUN_DIR")
PIXL_COMMAND(check, "run reference cases (safetensors case format): pixl check DIR|FILE...") /* pixl.c */
PIXL_COMMAND(jointup, "guided upsampling of CamVid labels (PAC): pixl jointup --method pacjointupsample_lite|djif|bilinear|nearest")
PIXL_COMMAND(edgebench, "BSDS boundary benchmark (ODS/OIS/AP): pixl edgebench PRED_DIR|--gradient IMG_DIR GT_DIR")
PIXL_COMMAND(annotate, "label query points in a web page, keyboard only (PixelPick): pixl annotate --images DIR --queries FILE --labels OUT.json")
PIXL_COMMAND(bench, "benchmarks against PyTorch: pixl bench ops|models [--threads N] [--no-torch] (see pixl bench)")
PIXL_COMMAND(pixelpick, "PixelPick's active-learning rounds: pixl pixelpick CONFIG --run DIR [--strategy margin] [--per-round 10] [--budget 100]")
