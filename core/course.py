"""The course as the notes teach it: its sections and topics (the curriculum map on Home) and a
bilingual glossary, each entry pointing at the page and tab that shows it.

A topic or term with `page=None` is not in the app yet ("coming"). `tab` is the English label
of the page's tab (`lazy_tabs`), which a link opens with `?<page>_tab=<label>`. English texts are
marked with `N_` and translated where they are shown; the Chinese terms are the notes' own.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.i18n import N_

# page file -> the key its lazy_tabs use in the URL
TAB_KEYS = {"pages/basics.py": "ba_tab", "pages/classic_nlp.py": "cl_tab", "pages/word_vectors.py": "wv_tab", "pages/lm_lineage.py": "lm_tab", "pages/transformer.py": "tf_tab", "pages/rnn_text.py": "rnn_tab", "pages/seq2seq.py": "seq2seq_tab",
            "pages/bert.py": "bert_tab", "pages/gpt.py": "gpt_tab", "pages/classify.py": "cls_tab"}


@dataclass(frozen=True)
class Topic:
    zh: str  # the notes' term, e.g. "词向量"
    en: str  # English name (marked for translation, shown in English only in the English UI)
    page: str | None = None  # page file that teaches it; None: coming
    tab: str | None = None  # English label of the tab that shows it

    def link(self) -> dict:
        """st.page_link arguments (page and query params) for this topic; {} when it is coming."""
        if self.page is None:
            return {}
        params = {TAB_KEYS[self.page]: self.tab} if self.tab and self.page in TAB_KEYS else {}
        return {"page": self.page, "query_params": params}


BASICS = "pages/basics.py"
LINEAGE = "pages/lm_lineage.py"
CLASSIFY = "pages/classify.py"


@dataclass(frozen=True)
class Section:
    zh: str
    en: str
    topics: tuple[Topic, ...]


CURRICULUM: tuple[Section, ...] = (
    Section("基础", N_("Basics"), (
        Topic("线性回归与 softmax 回归", N_("Linear and softmax regression"), BASICS, "🎲 Batch size & noise"),
        Topic("批量、随机与小批量梯度下降", N_("Batch, stochastic and mini-batch gradient descent"), BASICS,
              "🎲 Batch size & noise"),
        Topic("优化算法", N_("Optimizers: SGD, momentum, AdaGrad, RMSProp, Adam"), BASICS, "🏔️ Optimizers"),
        Topic("多层感知机与激活函数", N_("MLP and activation functions"), BASICS, "⚡ Activations & normalisation"),
        Topic("正向与反向传播", N_("Forward and backward propagation"), BASICS, "⚡ Activations & normalisation"),
        Topic("批量归一化与层归一化", N_("Batch and layer normalisation"), BASICS, "⚡ Activations & normalisation"),
        Topic("过拟合、权重衰减与丢弃法", N_("Over-fitting, weight decay and dropout"), BASICS, "🧪 Playground network"),
        Topic("卷积神经网络", N_("Convolutional networks (LeNet, AlexNet)"), BASICS, "🔲 Convolutions"),
    )),
    Section("经典 NLP", N_("Classic NLP"), (
        Topic("词典分词", N_("Dictionary segmentation (maximum matching)"), "pages/classic_nlp.py",
              "✂️ Dictionary segmentation"),
        Topic("二元语法与词网", N_("Bigram model and word lattice (Viterbi)"), "pages/classic_nlp.py",
              "🕸️ Bigram lattice"),
        Topic("HMM / CRF 序列标注", N_("HMM / CRF sequence labelling"), "pages/classic_nlp.py",
              "🏷️ HMM & CRF segmentation"),
        Topic("词性标注与命名实体识别", N_("POS tagging and named-entity recognition"), "pages/classic_nlp.py",
              "🧩 POS tagging & NER"),
        Topic("n 元语法与平滑", N_("n-gram language models and smoothing"), LINEAGE, "🔢 n-gram models"),
        Topic("关键词提取", N_("Keywords: TF-IDF, TextRank"), "pages/classic_nlp.py", "🔑 Keywords & new words"),
        Topic("新词提取", N_("New-word discovery"), "pages/classic_nlp.py", "🔑 Keywords & new words"),
        Topic("分词评测", N_("Evaluating segmenters and taggers"), "pages/classic_nlp.py", "📊 Evaluation"),
    )),
    Section("词向量", N_("Embeddings"), (
        Topic("独热编码 vs 词向量", N_("One-hot vs dense vectors"), "pages/word_vectors.py", "🔢 One-hot vs dense"),
        Topic("词类比", N_("Word analogies"), "pages/word_vectors.py", "🧮 Analogies"),
        Topic("近邻与可视化", N_("Neighbours and maps"), "pages/word_vectors.py", "🗺️ Neighbours & maps"),
        Topic("word2vec（跳字模型、CBOW、负采样）", N_("word2vec (skip-gram, CBOW, negative sampling)"),
              "pages/word_vectors.py", "🏋️ Train word2vec"),
        Topic("GloVe", N_("GloVe"), "pages/word_vectors.py", "🏁 Scoreboard"),
        Topic("神经网络语言模型 NNLM", N_("Neural network language model (NNLM)"), LINEAGE, "🧠 Neural LM (NNLM)"),
        Topic("ELMo", N_("ELMo: contextual features from a biLSTM LM"), LINEAGE, "🎭 ELMo"),
    )),
    Section("序列模型", N_("Sequence models"), (
        Topic("RNN 语言模型", N_("RNN language model"), "pages/rnn_text.py", "✍️ Generate"),
        Topic("同一文本上的语言模型", N_("Every language model on the same text"), LINEAGE, "🏁 Same text, every model"),
        Topic("训练 RNN / GRU / LSTM", N_("Training RNN / GRU / LSTM"), "pages/rnn_text.py", "🏋️ Train"),
        Topic("RNN vs GRU vs LSTM", N_("RNN vs GRU vs LSTM"), "pages/rnn_text.py", "⚖️ RNN vs GRU vs LSTM"),
        Topic("梯度消失与梯度裁剪", N_("Vanishing gradients and clipping"), "pages/rnn_text.py",
              "📉 Vanishing gradients & clipping"),
        Topic("seq2seq 编码器-解码器", N_("Seq2seq encoder–decoder"), "pages/seq2seq.py", "🌐 Translate"),
        Topic("束搜索", N_("Beam search"), "pages/seq2seq.py", "🌐 Translate"),
        Topic("注意力 vs 定长上下文向量", N_("Attention vs one context vector"), "pages/seq2seq.py",
              "📊 Attention vs none"),
    )),
    Section("Transformer 家族", N_("Transformers"), (
        Topic("自注意力", N_("Self-attention, step by step"), "pages/attention.py"),
        Topic("多头注意力与位置编码", N_("Multi-head attention and positional encoding"), "pages/attention.py"),
        Topic("Transformer 编码器-解码器", N_("The whole Transformer encoder–decoder"), "pages/transformer.py",
              "🧪 Toy tasks"),
        Topic("Transformer 机器翻译", N_("A Transformer translator against the GRU + attention"),
              "pages/transformer.py", "🌐 Translation"),
        Topic("BERT 掩码语言模型", N_("BERT: masked language model"), "pages/bert.py", "🎭 Fill-mask"),
        Topic("MLM 的遮盖方式（80-10-10）", N_("How MLM corrupts text (80-10-10)"), "pages/bert.py",
              "🧪 How MLM corrupts text"),
        Topic("上下文词向量", N_("Contextual word vectors"), "pages/bert.py", "🧭 Contextual vectors"),
        Topic("BERT 预训练：MLM + NSP（中文）", N_("Pre-training a Chinese BERT: MLM + NSP"), "pages/bert.py",
              "🏋️ Pre-training"),
        Topic("GPT 与采样（温度、top-k、核采样）", N_("GPT and sampling (temperature, top-k, top-p)"),
              "pages/gpt.py", "✍️ Generate & look inside"),
        Topic("贪心、束搜索与采样的比较", N_("Greedy vs beam vs sampling"), "pages/gpt.py", "⚖️ Compare decoders"),
        Topic("从零训练小 GPT", N_("A tiny GPT trained from scratch"), "pages/gpt.py", "🐣 Tiny GPT from scratch"),
        Topic("文本分类：从词袋到 BERT", N_("Text classification: from bag-of-words to BERT"), CLASSIFY,
              "⚖️ Compare"),
        Topic("基于特征与微调", N_("Feature-based vs fine-tuning"), CLASSIFY, "🧊 Features vs fine-tuning"),
        Topic("学习曲线：预训练何时最有用", N_("Learning curves: when pre-training pays off"), CLASSIFY,
              "📈 Learning curves"),
    )),
)


@dataclass(frozen=True)
class Term:
    en: str  # the English term (not translated: it is the term)
    zh: str  # 术语
    definition: str  # one line, English, marked for translation
    where: Topic | None = None  # where the app shows it


def _at(page: str, tab: str | None = None) -> Topic:
    return Topic("", "", page, tab)


GLOSSARY: tuple[Term, ...] = (
    Term("one-hot vector", "独热向量", N_("A vector with a single 1 at the word's index: every pair of words is "
                                        "equally far apart."), _at("pages/word_vectors.py", "🔢 One-hot vs dense")),
    Term("word embedding", "词向量", N_("A dense, learned vector per word whose geometry reflects meaning."),
         _at("pages/word_vectors.py", "🧮 Analogies")),
    Term("skip-gram", "跳字模型", N_("word2vec variant that predicts the context words from the centre word."),
         _at("pages/word_vectors.py", "🏋️ Train word2vec")),
    Term("CBOW", "连续词袋模型", N_("word2vec variant that predicts the centre word from the average of its context."),
         _at("pages/word_vectors.py", "🏋️ Train word2vec")),
    Term("negative sampling", "负采样", N_("Train word vectors by telling true (word, context) pairs from K random "
                                         "ones instead of a softmax over the whole vocabulary."),
         _at("pages/word_vectors.py", "🏋️ Train word2vec")),
    Term("subsampling", "下采样", N_("Randomly drop very frequent words (the, of) from the training windows."),
         _at("pages/word_vectors.py", "🏋️ Train word2vec")),
    Term("language model", "语言模型", N_("A model of p(next token | previous tokens); its quality is measured by "
                                        "perplexity."), _at("pages/rnn_text.py", "✍️ Generate")),
    Term("hidden state", "隐藏状态", N_("The vector an RNN carries from one step to the next: its memory of the "
                                      "text so far."), _at("pages/rnn_text.py", "🏋️ Train")),
    Term("vanishing gradient", "梯度消失", N_("Gradients shrink exponentially as they flow back through many "
                                            "steps, so long-range dependencies are not learned."),
         _at("pages/rnn_text.py", "📉 Vanishing gradients & clipping")),
    Term("gradient clipping", "梯度裁剪", N_("Rescale the gradient when its norm exceeds a threshold, keeping its "
                                           "direction: a guard against exploding gradients."),
         _at("pages/rnn_text.py", "📉 Vanishing gradients & clipping")),
    Term("LSTM", "长短期记忆网络", N_("An RNN cell with input, forget and output gates and an additive cell state."),
         _at("pages/rnn_text.py", "⚖️ RNN vs GRU vs LSTM")),
    Term("GRU", "门控循环单元", N_("An RNN cell with reset and update gates; fewer weights than an LSTM."),
         _at("pages/rnn_text.py", "⚖️ RNN vs GRU vs LSTM")),
    Term("encoder–decoder", "编码器-解码器", N_("One network reads the source into vectors, another writes the "
                                             "target from them."), _at("pages/seq2seq.py", "🌐 Translate")),
    Term("teacher forcing", "教师强制", N_("During training the decoder is fed the true previous token, not its own "
                                         "prediction."), _at("pages/seq2seq.py", "🏋️ Train")),
    Term("beam search", "束搜索", N_("Keep the k most likely prefixes at each step instead of only the best one."),
         _at("pages/seq2seq.py", "🌐 Translate")),
    Term("length penalty", "长度惩罚", N_("Divide a hypothesis' log-probability by L^α so longer outputs are not "
                                        "unfairly penalised."), _at("pages/seq2seq.py", "🌐 Translate")),
    Term("BLEU", "BLEU", N_("Translation score from n-gram overlap with a reference, times a brevity penalty."),
         _at("pages/seq2seq.py", "📊 Attention vs none")),
    Term("attention", "注意力", N_("A weighted average of value vectors, weights from query–key similarity: "
                                 "softmax(QKᵀ/√d_k)V."), _at("pages/attention.py")),
    Term("self-attention", "自注意力", N_("Attention in which queries, keys and values all come from the same "
                                        "sequence."), _at("pages/attention.py")),
    Term("multi-head attention", "多头注意力", N_("Several attentions in parallel on smaller projections, "
                                              "concatenated."), _at("pages/attention.py")),
    Term("mask", "掩码", N_("Scores set to −∞ before the softmax so some positions (padding, the future) get "
                          "weight 0."), _at("pages/attention.py")),
    Term("positional encoding", "位置编码", N_("Vectors added to the token embeddings so attention knows word "
                                           "order."), _at("pages/attention.py")),
    Term("causal mask", "因果掩码", N_("The decoder's mask that lets position t look only at positions up to t, "
                                   "so training cannot peek at the token it must predict."),
         _at("pages/transformer.py", "🎭 Masks")),
    Term("encoder–decoder attention", "编码器-解码器注意力", N_("The decoder's queries attend over the encoder's "
                                                          "outputs: where the source is read."),
         _at("pages/transformer.py", "🧪 Toy tasks")),
    Term("label smoothing", "标签平滑", N_("Train toward a target that gives the right token 1 − ε and spreads ε over "
                                       "the others, so the model is not pushed to infinite confidence."),
         _at("pages/transformer.py", "🧪 Toy tasks")),
    Term("learning-rate warm-up", "学习率预热", N_("Start training with a small learning rate and raise it over the "
                                              "first steps; the Transformer's schedule then decays it as 1/√step."),
         _at("pages/transformer.py", "🧪 Toy tasks")),
    Term("masked language model", "掩码语言模型", N_("Pre-training by predicting hidden ([MASK]) tokens from both "
                                                "sides' context: BERT."), _at("pages/bert.py", "🎭 Fill-mask")),
    Term("next sentence prediction", "下一句预测", N_("BERT's second pre-training task: does sentence B follow "
                                                 "sentence A?"), _at("pages/bert.py", "🔗 Next sentence")),
    Term("contextual embedding", "上下文词向量", N_("A word's vector computed from its sentence, so 'bank' by a river "
                                               "and 'bank' with money differ."),
         _at("pages/bert.py", "🧭 Contextual vectors")),
    Term("temperature", "温度", N_("Divide the logits by T before the softmax: T < 1 sharpens, T > 1 flattens."),
         _at("pages/gpt.py", "✍️ Generate & look inside")),
    Term("top-p (nucleus) sampling", "核采样", N_("Sample only from the smallest set of tokens whose probabilities "
                                              "add up to p."), _at("pages/gpt.py", "✍️ Generate & look inside")),
    Term("perplexity", "困惑度", N_("exp of the mean negative log-likelihood per token: lower is better."),
         _at("pages/gpt.py", "🐣 Tiny GPT from scratch")),
    Term("n-gram model", "n 元语法", N_("A language model that predicts each token from the n−1 tokens before it, "
                                       "by counting how often they occur together."),
         _at(LINEAGE, "🔢 n-gram models")),
    Term("smoothing", "平滑", N_("Moving some probability from seen n-grams to unseen ones, so an unseen n-gram does not "
                               "make a whole sentence impossible (add-k, Good–Turing, Kneser–Ney …)."),
         _at(LINEAGE, "🔢 n-gram models")),
    Term("Kneser–Ney smoothing", "Kneser–Ney 平滑", N_("Absolute discounting whose lower order counts in how many "
                                                       "different contexts a word appears, not how often."),
         _at(LINEAGE, "🔢 n-gram models")),
    Term("neural network language model", "神经网络语言模型", N_("Bengio's model (2003): word vectors of the previous "
                                                          "words, a tanh layer and a softmax over the vocabulary."),
         _at(LINEAGE, "🧠 Neural LM (NNLM)")),
    Term("adaptive softmax", "自适应 softmax", N_("A softmax whose rare words sit in clusters scored only when "
                                                 "needed: exact probabilities at a fraction of the cost."),
         _at(LINEAGE, "🏁 Same text, every model")),
    Term("scalar mix", "标量混合", N_("ELMo's task-specific weighting of its layers: γ Σ s_j h_j with s = softmax(w)."),
         _at(LINEAGE, "🎭 ELMo")),
    Term("word segmentation", "分词", N_("Splitting Chinese text, written without spaces, into words."),
         _at("pages/classic_nlp.py", "✂️ Dictionary segmentation")),
    Term("maximum matching", "最大匹配", N_("Dictionary segmentation that always takes the longest dictionary "
                                          "word, from the left (forward) or the right (backward)."),
         _at("pages/classic_nlp.py", "✂️ Dictionary segmentation")),
    Term("word lattice", "词网", N_("Every dictionary word of a sentence as an edge between character positions; "
                                  "the best segmentation is the cheapest path."),
         _at("pages/classic_nlp.py", "🕸️ Bigram lattice")),
    Term("Viterbi algorithm", "维特比算法", N_("Dynamic programming that finds the best path (tag sequence) in "
                                            "time linear in the length."), _at("pages/classic_nlp.py", "🕸️ Bigram lattice")),
    Term("hidden Markov model", "隐马尔可夫模型", N_("Tags emit words; tags follow a Markov chain; decoded with "
                                                "Viterbi."), _at("pages/classic_nlp.py", "🏷️ HMM & CRF segmentation")),
    Term("conditional random field", "条件随机场", N_("A discriminative sequence labeller over features of the "
                                                  "whole input."), _at("pages/classic_nlp.py", "🏷️ HMM & CRF segmentation")),
    Term("part-of-speech tagging", "词性标注", N_("Giving each word its class: noun, verb, person name ..."),
         _at("pages/classic_nlp.py", "🧩 POS tagging & NER")),
    Term("named-entity recognition", "命名实体识别", N_("Finding the names of people, places and organisations in "
                                                   "text."), _at("pages/classic_nlp.py", "🧩 POS tagging & NER")),
    Term("TF-IDF", "TF-IDF", N_("Term frequency times inverse document frequency: how characteristic a word is of "
                                "a document."), _at("pages/classic_nlp.py", "🔑 Keywords & new words")),
    Term("TextRank", "TextRank", N_("PageRank on a graph of words that occur near each other: keywords without "
                                    "training."), _at("pages/classic_nlp.py", "🔑 Keywords & new words")),
    Term("gradient descent", "梯度下降", N_("Repeatedly step the parameters against the gradient of the loss, "
                                          "scaled by the learning rate."), _at(BASICS, "🏔️ Optimizers")),
    Term("learning rate", "学习率", N_("The step size η of gradient descent: too small crawls, too large diverges."),
         _at(BASICS, "🏔️ Optimizers")),
    Term("mini-batch", "小批量", N_("The few examples whose averaged gradient makes one training step."),
         _at(BASICS, "🎲 Batch size & noise")),
    Term("momentum", "动量法", N_("An optimizer that keeps a running average of past gradients as a velocity."),
         _at(BASICS, "🏔️ Optimizers")),
    Term("AdaGrad / RMSProp", "AdaGrad / RMSProp", N_("Optimizers that give each parameter its own step size, "
                                                      "divided by the size of its past gradients."),
         _at(BASICS, "🏔️ Optimizers")),
    Term("Adam", "Adam", N_("An optimizer with momentum and a per-parameter step size from the running mean of "
                            "squared gradients."), _at(BASICS, "🏔️ Optimizers")),
    Term("activation function", "激活函数", N_("The non-linear function applied after each layer's weighted sum: "
                                           "sigmoid, tanh, ReLU, GELU."), _at(BASICS, "⚡ Activations & normalisation")),
    Term("saturation", "饱和", N_("A sigmoid or tanh unit whose input is so large that its derivative is nearly 0: "
                                "gradients stop flowing through it."), _at(BASICS, "⚡ Activations & normalisation")),
    Term("backpropagation", "反向传播", N_("Computing every weight's gradient with the chain rule, from the loss "
                                       "back to the input, layer by layer."),
         _at(BASICS, "⚡ Activations & normalisation")),
    Term("Xavier / Kaiming initialisation", "Xavier / Kaiming 初始化", N_("Random initial weights scaled by the "
                                                                      "layer's fan-in (and fan-out) so activations "
                                                                      "keep their size through depth."),
         _at(BASICS, "⚡ Activations & normalisation")),
    Term("batch normalisation", "批量归一化", N_("Normalise each channel with the mean and variance of the batch, "
                                              "then scale and shift."), _at(BASICS, "⚡ Activations & normalisation")),
    Term("layer normalisation", "层归一化", N_("Normalise each example over its own features: independent of the "
                                            "batch, used in Transformers."),
         _at(BASICS, "⚡ Activations & normalisation")),
    Term("over-fitting", "过拟合", N_("Low training error, high error on new data: the model learnt the noise."),
         _at(BASICS, "🧪 Playground network")),
    Term("under-fitting", "欠拟合", N_("High error even on the training data: the model is too simple."),
         _at(BASICS, "🧪 Playground network")),
    Term("weight decay (L2)", "权重衰减", N_("Add λ‖w‖² to the loss so the weights stay small."),
         _at(BASICS, "🧪 Playground network")),
    Term("dropout", "丢弃法", N_("During training, zero each hidden unit with probability p (and scale the rest)."),
         _at(BASICS, "🧪 Playground network")),
    Term("convolution", "卷积", N_("Slide a small kernel over the input and sum the products at each position."),
         _at(BASICS, "🔲 Convolutions")),
    Term("padding / stride", "填充 / 步幅", N_("Zeros added around the input / how far the kernel moves each step: "
                                            "output size ⌊(n + 2p − k)/s⌋ + 1."), _at(BASICS, "🔲 Convolutions")),
    Term("pooling", "池化", N_("Keep the maximum (or mean) of each small window: a smaller map."),
         _at(BASICS, "🔲 Convolutions")),
    Term("text classification", "文本分类", N_("Give a text one label of a fixed set (sentiment, topic, spam…)."),
         _at(CLASSIFY, "⚖️ Compare")),
    Term("naive Bayes", "朴素贝叶斯", N_("A classifier that assumes the features independent given the class: "
                                       "log P(c) plus the sum of each feature's log P(feature | c)."),
         _at(CLASSIFY, "📐 The math")),
    Term("logistic regression", "逻辑回归", N_("A linear score per class turned into probabilities by the sigmoid "
                                             "(softmax for more classes)."), _at(CLASSIFY, "📐 The math")),
    Term("TextCNN", "TextCNN", N_("Convolutions of a few widths over word or character embeddings, max-pooled over "
                                  "the text, then a linear classifier."), _at(CLASSIFY, "⚖️ Compare")),
    Term("feature-based", "基于特征", N_("Use a frozen pre-trained model's vectors as the input of a small task model "
                                       "(as ELMo)."), _at(CLASSIFY, "🧊 Features vs fine-tuning")),
    Term("fine-tuning", "微调", N_("Add a small head to a pre-trained model and train every weight on the task "
                                 "(as BERT)."), _at(CLASSIFY, "🧊 Features vs fine-tuning")),
    Term("confusion matrix", "混淆矩阵", N_("Counts of (true class, predicted class): the diagonal is right, the rest "
                                          "shows which classes are mixed up."), _at(CLASSIFY, "🔍 Look inside")),
    Term("learning curve", "学习曲线", N_("Accuracy against the number of training examples."),
         _at(CLASSIFY, "📈 Learning curves")),
)
